import Foundation

/// A prompt and a completion in token ids: the unit every trainer scores. The prompt holds one
/// placeholder id per image (the model widens it); `images` are their pixels [I, C, S, S].
public struct TokenSequence {
    public var prompt: [Int32]
    public var images: Tensor?
    public var completion: [Int32]

    public init(prompt: [Int32], images: Tensor? = nil, completion: [Int32]) {
        self.prompt = prompt; self.images = images; self.completion = completion
    }
}

/// Sequences right-padded into one forward [B, T]. Causal attention keeps padding invisible to
/// the real positions before it, so no attention mask is needed.
struct SequenceBatch {
    let ids: [Int32]
    let batch: Int, time: Int
    let images: Tensor?
    /// Real (expanded) length of each row.
    let lengths: [Int]
    /// Flat positions (b·T + t) whose logits predict the completion tokens, rows in order.
    let predictingPositions: [Int32]
    /// The completion tokens those positions predict.
    let targets: [Int32]
    /// Completion tokens of each row (offsets into the flat order are their running sums).
    let completionLengths: [Int]

    init(_ rows: [TokenSequence], model: any CausalLM) {
        require(!rows.isEmpty, "SequenceBatch: no rows")
        let expanded = rows.map { model.expandImageTokens($0.prompt) }
        let lengths = zip(expanded, rows).map { $0.count + $1.completion.count }
        require(expanded.allSatisfy { !$0.isEmpty }, "SequenceBatch: empty prompt")
        let time = lengths.max()!
        var ids = [Int32](repeating: 0, count: rows.count * time)
        var positions: [Int32] = [], targets: [Int32] = []
        for (b, (prompt, row)) in zip(expanded, rows).enumerated() {
            let sequence = prompt + row.completion
            for (t, id) in sequence.enumerated() { ids[b * time + t] = id }
            for (k, token) in row.completion.enumerated() {
                positions.append(Int32(b * time + prompt.count - 1 + k))
                targets.append(token)
            }
        }
        let imageRows = rows.compactMap(\.images)
        self.ids = ids
        self.batch = rows.count
        self.time = time
        self.images = imageRows.isEmpty ? nil : imageRows.count == 1 ? imageRows[0] : Tensor.concat(imageRows, axis: 0)
        self.lengths = lengths
        predictingPositions = positions
        self.targets = targets
        completionLengths = rows.map(\.completion.count)
    }

    /// A flat per-token array [N] (rows concatenated) cut back into rows.
    func perRow(_ flat: [Float]) -> [[Float]] {
        var start = 0
        return completionLengths.map { n in defer { start += n }; return Array(flat[start..<(start + n)]) }
    }

    /// A constant [B, N] matrix with ones where flat completion token n belongs to row b: a
    /// matmul with it sums per-token values into per-sequence values.
    var rowMembership: Tensor {
        let n = targets.count
        let m = Tensor(zeros: [batch, n])
        var start = 0
        for (b, len) in completionLengths.enumerated() {
            for k in start..<(start + len) { m.data[b * n + k] = 1 }
            start += len
        }
        return m
    }
}

/// Per-token log-probabilities of the completions, and what the trainers' metrics need.
struct CompletionScores {
    /// log π(token | prefix) of every completion token, rows concatenated: [N].
    let logProbs: Tensor
    /// With `details`: entropy of the next-token distribution at each of those positions, and
    /// whether the token was the most likely one (no gradient).
    let entropy: [Float]
    let isArgmax: [Bool]
}

extension CausalLM {
    /// Log-probabilities of every completion token of `batch` (differentiable when gradients are
    /// on). Only the positions that predict completion tokens go through the LM head.
    func completionScores(_ batch: SequenceBatch, details: Bool = false) -> CompletionScores {
        let hidden = hiddenStates(batch.ids, batch: batch.batch, time: batch.time, images: batch.images)  // [B, T, H]
        let rows = Tensor.embedding(hidden.reshape(batch.batch * batch.time, -1), ids: batch.predictingPositions)  // [N, H]
        let logp = language.logits(rows).logSoftmax()                                                // [N, V]
        var entropy: [Float] = [], isArgmax: [Bool] = []
        if details {
            let v = logp.shape[1]
            for (r, target) in batch.targets.enumerated() {
                let row = logp.data + r * v
                var h: Float = 0, best = 0
                for j in 0..<v {
                    h -= Foundation.exp(row[j]) * row[j]
                    if row[j] > row[best] { best = j }
                }
                entropy.append(h)
                isArgmax.append(best == Int(target))
            }
        }
        return CompletionScores(logProbs: logp.gather(lastAxis: batch.targets), entropy: entropy, isArgmax: isArgmax)
    }

    /// Final hidden state [B, H] at each row's last real position (where a scalar head reads).
    func lastHidden(_ batch: SequenceBatch) -> Tensor {
        let hidden = hiddenStates(batch.ids, batch: batch.batch, time: batch.time, images: batch.images)
        let last = batch.lengths.enumerated().map { Int32($0.offset * batch.time + $0.element - 1) }
        return Tensor.embedding(hidden.reshape(batch.batch * batch.time, -1), ids: last)
    }
}
