import Foundation
import Testing
@testable import GRLHF

@Suite struct PromptRowTests {
    /// Keys the trainers do not read stay with the row: reward functions see them, and writing
    /// the row back keeps them.
    @Test func promptRowsKeepTheirOtherKeys() throws {
        let line = #"{"question": "q", "ground_truth": "blue", "data_source": "colors", "extra_info": {"index": 7, "w": 0.5}, "tags": ["a", null, true]}"#
        let row = try JSONDecoder().decode(PromptExample.self, from: Data(line.utf8))
        #expect(row.question == "q" && row.groundTruth == "blue" && row.image == nil)
        #expect(row.extra == ["data_source": .string("colors"), "extra_info": .object(["index": .int(7), "w": .double(0.5)]),
                              "tags": .array([.string("a"), .null, .bool(true)])])
        let again = try JSONDecoder().decode(PromptExample.self, from: try JSONEncoder().encode(row))
        #expect(again == row)
        let plain = try JSONDecoder().decode(PromptExample.self, from: Data(#"{"question": "q"}"#.utf8))
        #expect(plain == PromptExample(question: "q"))
        let written = String(decoding: try JSONEncoder().encode(PromptExample(question: "q", extra: ["question": .string("shadow")])), as: UTF8.self)
        #expect(written == #"{"question":"q"}"#)   // an extra never overrides a field
    }
}
