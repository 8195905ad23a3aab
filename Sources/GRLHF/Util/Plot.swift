import Foundation

/// A small line chart rendered to an RGB `PNG.Image` with no dependencies: white background,
/// light grid, axes box with numeric tick labels, 2-pixel lines and a legend. Training curves
/// (loss, reward, KL per step) are the intended use.
///
/// Non-finite points are skipped and break the line; an isolated point is drawn as a square
/// marker; constant and single-point series get a padded range instead of dividing by zero.
public struct LinePlot {
    public typealias Color = (UInt8, UInt8, UInt8)

    public var title: String?
    public var xLabel: String?
    public var series: [(name: String, points: [(Double, Double)], color: Color)]
    public var width: Int
    public var height: Int

    /// Distinct, print-friendly colors for series that have none of their own.
    public static let palette: [Color] = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (255, 127, 14),
                                          (148, 103, 189), (140, 86, 75), (227, 119, 194), (23, 190, 207)]

    public init(title: String? = nil, xLabel: String? = nil,
                series: [(name: String, points: [(Double, Double)], color: Color)] = [],
                width: Int = 640, height: Int = 400) {
        self.title = title
        self.xLabel = xLabel
        self.series = series
        self.width = width
        self.height = height
    }

    /// Adds a series; `color` defaults to the next palette entry.
    public mutating func add(_ name: String, _ points: [(Double, Double)], color: Color? = nil) {
        series.append((name, points, color ?? Self.palette[series.count % Self.palette.count]))
    }

    /// Renders and writes the chart as a PNG file (atomically).
    public func write(to path: String) throws { try PNG.write(render(), to: path) }

    public func render() -> PNG.Image {
        var c = Canvas(width: max(width, 1), height: max(height, 1))
        let finite = series.flatMap(\.points).filter { $0.0.isFinite && $0.1.isFinite }
        let (x0, x1) = Self.range(finite.map(\.0), pad: 0)
        let (y0, y1) = Self.range(finite.map(\.1), pad: 0.05)
        let xTicks = Self.ticks(x0, x1), yTicks = Self.ticks(y0, y1)

        // Layout: the left margin fits the widest y label; title and x label take rows when present.
        let labelWidth = yTicks.map { Canvas.textWidth($0.label, scale: 1) }.max() ?? 0
        let left = 14 + labelWidth, right = c.width - 16
        let top = title == nil ? 14 : 34
        let bottom = c.height - (xLabel == nil ? 24 : 38)
        guard right - left >= 8, bottom - top >= 8 else { return c.image }

        // Data maps 3 px inside the box so thick lines at the extremes stay visible.
        func px(_ x: Double) -> Int { left + 3 + Self.pixel(x, x0, x1, span: right - left - 6) }
        func py(_ y: Double) -> Int { bottom - 3 - Self.pixel(y, y0, y1, span: bottom - top - 6) }

        let grid: Color = (232, 232, 232), ink: Color = (70, 70, 70)
        for t in xTicks {
            let x = px(t.value)
            c.line(x, top, x, bottom, grid)
            c.line(x, bottom, x, bottom + 4, ink)
            c.text(t.label, centerX: x, y: bottom + 8, scale: 1, ink)
        }
        for t in yTicks {
            let y = py(t.value)
            c.line(left, y, right, y, grid)
            c.line(left - 4, y, left, y, ink)
            c.text(t.label, x: left - 7 - Canvas.textWidth(t.label, scale: 1), y: y - 3, scale: 1, ink)
        }
        c.rect(left, top, right, bottom, ink)
        if let title { c.text(title, centerX: (left + right) / 2, y: 10, scale: 2, (30, 30, 30)) }
        if let xLabel { c.text(xLabel, centerX: (left + right) / 2, y: c.height - 14, scale: 1, ink) }

        // Series: segments between consecutive finite points, clipped to the inside of the box.
        c.clip = (left + 1, top + 1, right - 1, bottom - 1)
        for s in series {
            let p = s.points.map { ($0.0.isFinite && $0.1.isFinite) ? (px($0.0), py($0.1)) : nil }
            for i in p.indices {
                guard let a = p[i] else { continue }
                if i + 1 < p.count, let b = p[i + 1] {
                    c.thickLine(a.0, a.1, b.0, b.1, s.color)
                } else if i == 0 || p[i - 1] == nil {
                    c.fill(a.0 - 2, a.1 - 2, a.0 + 2, a.1 + 2, s.color)  // isolated point
                }
            }
        }
        c.clip = nil

        // Legend in the corner of the plot area that hides the fewest data pixels.
        let named = series.filter { !$0.name.isEmpty }
        if !named.isEmpty {
            let textW = named.map { Canvas.textWidth($0.name, scale: 1) }.max() ?? 0
            let boxW = 30 + textW, boxH = 6 + 12 * named.count
            let corners = [(right - 8 - boxW, top + 8), (left + 8, top + 8),
                           (right - 8 - boxW, bottom - 8 - boxH), (left + 8, bottom - 8 - boxH)]
            let (bx, by) = corners.min { c.inked($0.0, $0.1, $0.0 + boxW, $0.1 + boxH, paper: grid)
                < c.inked($1.0, $1.1, $1.0 + boxW, $1.1 + boxH, paper: grid) }!
            c.fill(bx, by, bx + boxW, by + boxH, (255, 255, 255))
            c.rect(bx, by, bx + boxW, by + boxH, (190, 190, 190))
            for (i, s) in named.enumerated() {
                let y = by + 9 + 12 * i
                c.fill(bx + 5, y - 1, bx + 19, y + 1, s.color)
                c.text(s.name, x: bx + 24, y: y - 3, scale: 1, (30, 30, 30))
            }
        }
        return c.image
    }

    /// Lowest and highest value, padded by `pad` of the span; never empty, never zero-width.
    static func range(_ values: [Double], pad: Double) -> (Double, Double) {
        guard var lo = values.min(), var hi = values.max() else { return (0, 1) }
        if lo == hi {
            let d = lo == 0 ? 1 : abs(lo) * 0.1
            return (lo - d, hi + d)
        }
        let d = (hi / 2 - lo / 2) * 2 * pad  // halves keep the span finite for huge values
        if d.isFinite { lo -= d; hi += d }
        return (lo, hi)
    }

    /// Offset of `v` in pixels along an axis of `span` pixels showing lo...hi.
    static func pixel(_ v: Double, _ lo: Double, _ hi: Double, span: Int) -> Int {
        let t = (v / 2 - lo / 2) / (hi / 2 - lo / 2)
        return Int((min(max(t.isFinite ? t : 0, -1), 2) * Double(span)).rounded())
    }

    /// "Nice" ticks (1, 2 or 5 times a power of ten) inside lo...hi, about five of them.
    static func ticks(_ lo: Double, _ hi: Double) -> [(value: Double, label: String)] {
        let raw = (hi / 2 - lo / 2) * 2 / 5
        let mag = pow(10, (log10(raw)).rounded(.down))
        let r = raw / mag
        let step = (r < 1.5 ? 1 : r < 3 ? 2 : r < 7 ? 5 : 10) * mag
        let k0 = (lo / step - 1e-9).rounded(.up), k1 = (hi / step + 1e-9).rounded(.down)  // ends count
        guard step.isFinite, step > 0, k0.isFinite, k1.isFinite, k1 - k0 >= 0, k1 - k0 <= 12 else {
            return [lo, hi].map { ($0, format($0)) }
        }
        return (0 ... Int(k1 - k0)).map { k in let v = (k0 + Double(k)) * step; return (v, format(v, step: step)) }
    }

    /// Tick text with the decimals the step needs ("0.0", "0.5", "1.0"); "%g" style for very
    /// large or small values, without the exponent's sign and zero padding ("1e-05" -> "1e-5").
    static func format(_ v: Double, step: Double? = nil) -> String {
        let v = v == 0 ? 0 : v  // no "-0"
        if let step, max(abs(v), step) < 1e6, step >= 1e-4 {
            return String(format: "%.*f", max(0, Int((-log10(step) - 1e-9).rounded(.up))), v)
        }
        return String(format: "%g", v).replacingOccurrences(of: "e+0", with: "e").replacingOccurrences(of: "e+", with: "e")
            .replacingOccurrences(of: "e-0", with: "e-")
    }
}

/// An RGB raster with clipped drawing primitives and a 5x7 bitmap font.
struct Canvas {
    let width: Int, height: Int
    var pixels: [UInt8]
    var clip: (Int, Int, Int, Int)?

    init(width: Int, height: Int) {
        self.width = width
        self.height = height
        pixels = [UInt8](repeating: 255, count: width * height * 3)
    }

    var image: PNG.Image { PNG.Image(width: width, height: height, channels: 3, pixels: pixels) }

    mutating func set(_ x: Int, _ y: Int, _ c: LinePlot.Color) {
        guard x >= 0, y >= 0, x < width, y < height else { return }
        if case let (x0, y0, x1, y1)? = clip, x < x0 || y < y0 || x > x1 || y > y1 { return }
        let i = (y * width + x) * 3
        pixels[i] = c.0; pixels[i + 1] = c.1; pixels[i + 2] = c.2
    }

    mutating func fill(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, _ c: LinePlot.Color) {
        let xa = max(x0, 0), xb = min(x1, width - 1), ya = max(y0, 0), yb = min(y1, height - 1)
        guard xa <= xb, ya <= yb else { return }
        for y in ya ... yb { for x in xa ... xb { set(x, y, c) } }
    }

    /// How many pixels in the rectangle are neither white nor `paper`.
    func inked(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, paper: LinePlot.Color) -> Int {
        var n = 0
        for y in max(y0, 0) ..< max(min(y1 + 1, height), max(y0, 0)) {
            for x in max(x0, 0) ..< max(min(x1 + 1, width), max(x0, 0)) {
                let i = (y * width + x) * 3, p = (pixels[i], pixels[i + 1], pixels[i + 2])
                if p != (255, 255, 255) && p != paper { n += 1 }
            }
        }
        return n
    }

    mutating func rect(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, _ c: LinePlot.Color) {
        line(x0, y0, x1, y0, c); line(x0, y1, x1, y1, c)
        line(x0, y0, x0, y1, c); line(x1, y0, x1, y1, c)
    }

    /// Bresenham; `stamp` 2 draws each step as a 2x2 block for a line two pixels thick.
    mutating func line(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, _ c: LinePlot.Color, stamp: Int = 1) {
        var x = x0, y = y0
        let dx = abs(x1 - x0), dy = -abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1
        var err = dx + dy
        while true {
            for oy in 0 ..< stamp { for ox in 0 ..< stamp { set(x + ox, y + oy, c) } }
            if x == x1 && y == y1 { break }
            let e2 = 2 * err
            if e2 >= dy { err += dy; x += sx }
            if e2 <= dx { err += dx; y += sy }
        }
    }

    mutating func thickLine(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, _ c: LinePlot.Color) {
        line(x0, y0, x1, y1, c, stamp: 2)
    }

    static func textWidth(_ s: String, scale: Int) -> Int { max(s.count * 6 - 1, 0) * scale }

    mutating func text(_ s: String, centerX: Int, y: Int, scale: Int, _ c: LinePlot.Color) {
        text(s, x: centerX - Self.textWidth(s, scale: scale) / 2, y: y, scale: scale, c)
    }

    /// Draws `s` with its top-left corner at (x, y); lowercase prints as uppercase.
    mutating func text(_ s: String, x: Int, y: Int, scale: Int, _ c: LinePlot.Color) {
        for (i, ch) in s.uppercased().enumerated() {
            let bits = Self.font[ch] ?? (ch == " " ? 0 : Self.font["?"]!)
            for row in 0 ..< 7 {
                let line = Int(truncatingIfNeeded: bits >> (8 * (6 - row))) & 0x1F
                for col in 0 ..< 5 where line & (0x10 >> col) != 0 {
                    let gx = x + (i * 6 + col) * scale, gy = y + row * scale
                    fill(gx, gy, gx + scale - 1, gy + scale - 1, c)
                }
            }
        }
    }

    /// 5x7 glyphs: seven rows, top row in the high byte, bit 4 the leftmost column.
    static let font: [Character: UInt64] = [
        "0": 0x0E_11_13_15_19_11_0E, "1": 0x04_0C_04_04_04_04_0E, "2": 0x0E_11_01_02_04_08_1F,
        "3": 0x1F_02_04_02_01_11_0E, "4": 0x02_06_0A_12_1F_02_02, "5": 0x1F_10_1E_01_01_11_0E,
        "6": 0x06_08_10_1E_11_11_0E, "7": 0x1F_01_02_04_08_08_08, "8": 0x0E_11_11_0E_11_11_0E,
        "9": 0x0E_11_11_0F_01_02_0C, "A": 0x0E_11_11_11_1F_11_11, "B": 0x1E_11_11_1E_11_11_1E,
        "C": 0x0E_11_10_10_10_11_0E, "D": 0x1C_12_11_11_11_12_1C, "E": 0x1F_10_10_1E_10_10_1F,
        "F": 0x1F_10_10_1E_10_10_10, "G": 0x0E_11_10_17_11_11_0F, "H": 0x11_11_11_1F_11_11_11,
        "I": 0x0E_04_04_04_04_04_0E, "J": 0x07_02_02_02_02_12_0C, "K": 0x11_12_14_18_14_12_11,
        "L": 0x10_10_10_10_10_10_1F, "M": 0x11_1B_15_15_11_11_11, "N": 0x11_11_19_15_13_11_11,
        "O": 0x0E_11_11_11_11_11_0E, "P": 0x1E_11_11_1E_10_10_10, "Q": 0x0E_11_11_11_15_12_0D,
        "R": 0x1E_11_11_1E_14_12_11, "S": 0x0F_10_10_0E_01_01_1E, "T": 0x1F_04_04_04_04_04_04,
        "U": 0x11_11_11_11_11_11_0E, "V": 0x11_11_11_11_11_0A_04, "W": 0x11_11_11_15_15_15_0A,
        "X": 0x11_11_0A_04_0A_11_11, "Y": 0x11_11_11_0A_04_04_04, "Z": 0x1F_01_02_04_08_10_1F,
        ".": 0x00_00_00_00_00_0C_0C, "-": 0x00_00_00_1F_00_00_00, "+": 0x00_04_04_1F_04_04_00,
        ":": 0x00_0C_0C_00_0C_0C_00, "_": 0x00_00_00_00_00_00_1F, "/": 0x00_01_02_04_08_10_00,
        "(": 0x02_04_08_08_08_04_02, ")": 0x08_04_02_02_02_04_08, ",": 0x00_00_00_00_0C_04_08,
        "%": 0x18_19_02_04_08_13_03, "=": 0x00_00_1F_00_1F_00_00, "?": 0x0E_11_01_02_04_00_04,
        "'": 0x04_04_08_00_00_00_00, "#": 0x0A_0A_1F_0A_1F_0A_0A, "<": 0x02_04_08_10_08_04_02,
        ">": 0x08_04_02_01_02_04_08, "*": 0x00_04_15_0E_15_04_00, "|": 0x04_04_04_04_04_04_04,
    ]
}
