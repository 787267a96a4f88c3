#!/usr/bin/env python3
"""Loads a TensorBoard event directory with TensorBoard's own reader (EventAccumulator) and
prints its scalars as JSON: {tag: [[step, value], ...]}. Exit status 2 when tensorboard is not
installed (`pip install tensorboard`), 1 when the files do not load.

    python3 tools/reference/check_tensorboard.py RUN/tensorboard
"""
import json
import sys

try:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
except ImportError:
    print("tensorboard is not installed (pip install tensorboard)", file=sys.stderr)
    sys.exit(2)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    accumulator = EventAccumulator(sys.argv[1], size_guidance={"scalars": 0})
    accumulator.Reload()
    tags = accumulator.Tags().get("scalars", [])
    if not tags:
        print(f"no scalars in {sys.argv[1]}", file=sys.stderr)
        sys.exit(1)
    print(json.dumps({tag: [[e.step, e.value] for e in accumulator.Scalars(tag)] for tag in tags}))


if __name__ == "__main__":
    main()
