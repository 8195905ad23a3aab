/// One number per position on top of a model's hidden states: the head of a Bradley-Terry
/// reward model or a PPO critic. A bias-free `score` projection [1, H], as Hugging Face's
/// `*ForSequenceClassification` with one label.
public final class ScalarHead: Module {
    public let weight: Tensor

    public init(hidden: Int, std: Float = 0.02, rng: inout PCG32) {
        weight = Tensor.randn([1, hidden], std: std, rng: &rng)
        super.init()
        register("weight", weight)
    }

    /// Values [B, T] for hidden states [B, T, H].
    public func callAsFunction(_ hidden: Tensor) -> Tensor {
        Tensor.linear(hidden, weight: weight, bias: nil).reshape(Array(hidden.shape.dropLast()))
    }

    /// The value at each sequence's last real token (position lengths[b] − 1, so right padding
    /// after it is ignored): [B, T] → [B].
    public static func lastToken(_ values: Tensor, lengths: [Int]) -> Tensor {
        require(values.rank == 2 && lengths.count == values.shape[0] && lengths.allSatisfy { $0 >= 1 && $0 <= values.shape[1] },
                "ScalarHead.lastToken: lengths \(lengths) for values \(values.shape)")
        return values.gather(lastAxis: lengths.map { Int32($0 - 1) })
    }
}
