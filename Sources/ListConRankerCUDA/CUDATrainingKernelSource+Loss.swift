/// The training loss on the GPU (issue 30): Circle Loss over each list's logits, as
/// `CircleLoss.evaluate` computes it on the host (in Double, list by list, the same sums in the
/// same order), so that a training step needs no round trip to the host for its loss: the logits
/// stay on the device, their gradient is written there, and the lists' losses wait there until the
/// step's end.
extension CUDATrainingKernelSource {
    /// The loss kernels' names.
    public static let lossKernelNames = ["circle_loss"]

    static let lossSource = #"""
// ---- Circle Loss (CircleLoss.evaluate) --------------------------------------------------------------
// u_i = gamma alpha_n (s_n - m) for an irrelevant passage, -gamma alpha_p (s_p - (1 - m)) for a relevant
// one, s = sigmoid(logit), alpha_p = relu(1 + m - s_p), alpha_n = relu(s_n + m); du_i/ds_i = +-gamma alpha.
__device__ void circle_term(float logit, bool relevant, double m, double gamma, double *s, double *u, double *slope) {
    double score = 1.0 / (1.0 + exp(-(double)logit));
    *s = score;
    if (relevant) {
        double alpha = fmax(1.0 + m - score, 0.0);
        *u = -gamma * alpha * (score - (1.0 - m));
        *slope = -gamma * alpha;
    } else {
        double alpha = fmax(score + m, 0.0);
        *u = gamma * alpha * (score - m);
        *slope = gamma * alpha;
    }
}

// One thread a list (lists of a few dozen passages; a step has a few dozen lists). List k's rows are
// rows[k] ..< rows[k] + lengths[k], its query first (the list head's row tables): its passages are the
// lengths[k] - 1 logits from rows[k] - k (one logit a passage, list after list), relevant where
// relevant[] is non-zero (each list has both kinds: checked on the host). losses[k] = softplus(z), z =
// lse_n(u) + lse_p(u); dlogits = d(loss_k)/d(logit) / divisor = sigmoid(z) / divisor * softmax weight * slope
// * s (1 - s), each logsumexp shifted by its group's largest u and summed in passage order, as the host does.
extern "C" __global__ void circle_loss(const float *logits, const float *relevant, const int *rows, const int *lengths,
                                       int lists, float margin, float scale, int divisor, float *losses,
                                       float *dlogits) {
    int k = blockIdx.x * blockDim.x + threadIdx.x;
    if (k >= lists) return;
    double m = (double)margin, gamma = (double)scale;
    int first = rows[k] - k, count = lengths[k] - 1;
    const float *x = logits + first;
    const float *r = relevant + first;
    float *dx = dlogits + first;
    double s, u, slope;
    // Each group's largest u (both groups have a member).
    double topPositive = 0.0, topNegative = 0.0;
    bool anyPositive = false, anyNegative = false;
    for (int i = 0; i < count; i++) {
        circle_term(x[i], r[i] != 0.0f, m, gamma, &s, &u, &slope);
        if (r[i] != 0.0f) {
            if (!anyPositive || u > topPositive) topPositive = u;
            anyPositive = true;
        } else {
            if (!anyNegative || u > topNegative) topNegative = u;
            anyNegative = true;
        }
    }
    double sumPositive = 0.0, sumNegative = 0.0;
    for (int i = 0; i < count; i++) {
        circle_term(x[i], r[i] != 0.0f, m, gamma, &s, &u, &slope);
        if (r[i] != 0.0f) sumPositive += exp(u - topPositive); else sumNegative += exp(u - topNegative);
    }
    double z = (topNegative + log(sumNegative)) + (topPositive + log(sumPositive));
    losses[k] = (float)(z > 0.0 ? z + log1p(exp(-z)) : log1p(exp(z)));
    double outer = 1.0 / (1.0 + exp(-z)) / (double)divisor;
    for (int i = 0; i < count; i++) {
        bool positive = r[i] != 0.0f;
        circle_term(x[i], positive, m, gamma, &s, &u, &slope);
        double weight = exp(u - (positive ? topPositive : topNegative)) / (positive ? sumPositive : sumNegative);
        dx[i] = (float)(outer * weight * slope * s * (1.0 - s));
    }
}
"""#
}
