import Foundation

/// The pipeline's results as one self-contained page, `report.html`: the claims checked, the
/// accuracy tables, the scaling plot, the reward-hacking watch and every stage's training curves.
/// Charts are PNGs inlined as data URIs (also written to `plots/`), so a browser shows the page
/// with no network and no scripts.
enum PipelineReport {
    /// A training curve to draw: a stage's metric, labelled.
    struct Curve {
        var label: String
        var stage: String
        var metric: String
    }

    static func write(_ summary: PipelineSummary, config: PipelineConfig, curves: [(title: String, curves: [Curve])],
                      to output: String) throws {
        let plots = output + "/plots"
        try FileManager.default.createDirectory(atPath: plots, withIntermediateDirectories: true)
        var html = """
        <!doctype html><html><head><meta charset="utf-8"><title>grlhf pipeline: \(escape(summary.preset))</title>
        <style>body{font:14px/1.45 system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
        table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 9px;text-align:right}
        th:first-child,td:first-child{text-align:left}th{background:#f3f3f3}.yes{color:#176f2c}.no{color:#a61b1b}
        img{max-width:100%;border:1px solid #eee}.grid{display:grid;grid-template-columns:1fr 1fr;gap:12px}</style></head><body>
        <h1>Generative RLHF-V pipeline: \(escape(summary.preset))</h1>
        <p>Data <code>\(escape(config.data))</code>, seed \(config.seed). \(summary.idPairs) ID and \(summary.oodPairs) OOD preference
        pairs; \(summary.idPrompts) ID and \(summary.oodPrompts) OOD test prompts answered greedily. Accuracies by answer type are on the ID sets.</p>
        <h2>The paper's claims at this scale</h2><table><tr><th>claim</th><th>result</th><th>evidence</th></tr>
        """
        for c in summary.claims {
            html += "<tr><td>\(escape(c.claim))</td><td class=\(c.reproduced ? "yes" : "no")>\(c.reproduced ? "reproduced" : "not reproduced")</td><td>\(escape(c.evidence))</td></tr>"
        }
        html += "</table>"

        let types = Array(Set(summary.rewardModels.values.flatMap { $0.id.byType.keys } + summary.policies.values.flatMap { $0.id.byType.keys })).sorted()
        html += "<h2>Reward models: pairwise accuracy</h2>"
        html += table(["reward model", "ID", "OOD", "parse failures"] + types.map { "ID " + $0 },
                      PipelineSummary.rewardModelOrder.compactMap { name in
                          summary.rewardModels[name].map { r in [name] + [r.id.overall, r.ood.overall, r.parseFailures].map(number) + types.map { number(r.id.byType[$0]) } }
                      })
        html += "<h2>Policies: answer accuracy against ground truth</h2>"
        html += table(["policy", "ID", "OOD"] + types.map { "ID " + $0 },
                      summary.policyNames.map { name in
                          let p = summary.policies[name]!
                          return [name, number(p.id.overall), number(p.ood.overall)] + types.map { number(p.id.byType[$0]) }
                      })

        if !summary.scaling.isEmpty {
            html += "<h2>Scaling: gain over the base by responses per prompt n</h2>"
            var plot = LinePlot(title: "ID accuracy gain over the base", xLabel: "responses per prompt n", width: 560, height: 320)
            var seen = Set<String>()
            for reward in summary.scaling.map(\.reward) where seen.insert(reward).inserted {
                plot.add(reward, summary.scaling.filter { $0.reward == reward }.map { (Double($0.n), Double($0.idGain)) })
            }
            html += try image(plot, plots + "/scaling.png")
            html += table(["reward", "n", "ID gain", "OOD gain"], summary.scaling.map {
                [$0.reward, String($0.n), String(format: "%+.3f", $0.idGain), String(format: "%+.3f", $0.oodGain)]
            })
        }
        if !summary.rewardWatch.isEmpty {
            html += "<h2>Reward-hacking watch</h2><p>Each RL policy's training reward and the ground-truth accuracy of the same rollouts, "
                + "first and last quarter of training. A reward that rises while ground truth falls by more than 0.05 is flagged.</p>"
            html += table(["policy", "reward first", "reward last", "truth first", "truth last", "flag"], summary.rewardWatch.map {
                [$0.policy, number($0.rewardStart), number($0.rewardEnd), number($0.truthStart), number($0.truthEnd), $0.flagged ? "reward hacking?" : "—"]
            })
        }
        html += "<h2>Training curves</h2><div class=grid>"
        for (i, chart) in curves.enumerated() {
            var plot = LinePlot(title: chart.title, xLabel: "step", width: 520, height: 300)
            for c in chart.curves {
                let points = smoothed(try series(c.metric, in: output + "/" + c.stage + "/metrics.jsonl"))
                if !points.isEmpty { plot.add(c.label, points) }
            }
            if !plot.series.isEmpty { html += try image(plot, plots + "/curve-\(i + 1).png") }
        }
        html += "</div><h2>Stages</h2>"
        html += table(["stage", "seconds"], summary.stages.map { [$0.stage, $0.seconds.map { String(format: "%.1f", $0) } ?? "earlier run"] })
        let configJSON = String(decoding: try JSONEncoder.pretty.encode(config), as: UTF8.self)
        html += "<details><summary>Configuration</summary><pre>\(escape(configJSON))</pre></details></body></html>\n"
        try AtomicFile.write(Array(html.utf8), to: output + "/report.html")
    }

    /// (step, value) of `metric` in a metrics.jsonl file; absent files and metrics give nothing.
    static func series(_ metric: String, in path: String) throws -> [(Double, Double)] {
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        return data.split(separator: UInt8(ascii: "\n")).compactMap { line in
            guard let row = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
                  let step = (row["step"] as? NSNumber)?.doubleValue, let value = (row[metric] as? NSNumber)?.doubleValue else { return nil }
            return (step, value)
        }
    }

    /// A moving average over about a twentieth of the run, so noisy RL curves show their trend.
    static func smoothed(_ points: [(Double, Double)]) -> [(Double, Double)] {
        let w = max(1, points.count / 20)
        guard w > 1 else { return points }
        var sum = 0.0
        return points.enumerated().map { i, p in
            sum += p.1
            if i >= w { sum -= points[i - w].1 }
            return (p.0, sum / Double(min(i + 1, w)))
        }
    }

    static func image(_ plot: LinePlot, _ path: String) throws -> String {
        let png = try PNG.encode(plot.render())
        try AtomicFile.write(png, to: path)
        return "<img alt=\"\(escape(plot.title ?? ""))\" src=\"data:image/png;base64,\(Data(png).base64EncodedString())\">"
    }

    static func table(_ header: [String], _ rows: [[String]]) -> String {
        "<table><tr>" + header.map { "<th>\(escape($0))</th>" }.joined() + "</tr>"
            + rows.map { "<tr>" + $0.map { "<td>\(escape($0))</td>" }.joined() + "</tr>" }.joined() + "</table>"
    }

    static func number(_ x: Float?) -> String { x.map { $0.isFinite ? String(format: "%.3f", $0) : "—" } ?? "—" }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
