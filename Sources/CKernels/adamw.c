// AdamW's per-element update for the training module, as one vectorised loop (the Swift loop it
// replaces neither vectorised nor avoided a libm call per square root).
//
// Every operation rounds as torch.optim.AdamW's single-tensor path writes it, in the same order:
// contraction into fused multiply-adds is off, and the square root is the correctly rounded
// instruction (no errno path). Compiled for several CPU levels, picked at load time (multiversion.h).
#include "CKernels.h"
#include "multiversion.h"

LCR_MULTIVERSION
void lcr_adamw_update(float *restrict parameters, float *restrict first, float *restrict second,
                      const float *restrict gradients, int64_t count, float decay, float beta1Complement,
                      float beta2, float beta2Complement, float stepSize, float correction2Root, float epsilon) {
#pragma clang fp contract(off)
    for (int64_t i = 0; i < count; i++) {
        float g = gradients[i];
        float p = parameters[i] * decay;                                 // decoupled weight decay
        float m = first[i] + (g - first[i]) * beta1Complement;           // exp_avg.lerp_(grad, 1 − β₁)
        float v = second[i] * beta2 + beta2Complement * g * g;           // exp_avg_sq·β₂ + (1 − β₂)·g²
        float denominator = __builtin_elementwise_sqrt(v) / correction2Root + epsilon;
        parameters[i] = p - stepSize * m / denominator;
        first[i] = m;
        second[i] = v;
    }
}
