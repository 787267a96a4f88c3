extension TrainingBackend {
    /// The backward of `y = LN(residual + dropout(branch))`, the post-norm join both networks' layers
    /// make: LayerNorm's input gradient into `dx` (replaced), which is the residual's gradient, and the
    /// branch's, returned: with a dropout mask, `dx ⊙ mask` written into `into` in the same pass
    /// (``layerNormBackward(dx:maskedBy:into:dgamma:dbeta:dy:x:mean:rstd:gamma:rows:width:)``);
    /// without, `dx` itself. `x` is the joined sum the forward kept.
    func residualLayerNormBackward(dx: Pointer, branch: (mask: Pointer, into: Pointer)?, dgamma: Pointer,
                                   dbeta: Pointer, dy: Pointer, x: Pointer, mean: Pointer, rstd: Pointer,
                                   gamma: Pointer, rows: Int, width: Int) throws -> Pointer {
        guard let branch else {
            try layerNormBackward(dx: dx, dxWrite: .replace, dgamma: dgamma, dbeta: dbeta, dy: dy, x: x, mean: mean,
                                  rstd: rstd, gamma: gamma, rows: rows, width: width)
            return dx
        }
        try layerNormBackward(dx: dx, maskedBy: branch.mask, into: branch.into, dgamma: dgamma, dbeta: dbeta, dy: dy,
                              x: x, mean: mean, rstd: rstd, gamma: gamma, rows: rows, width: width)
        return branch.into
    }
}
