import QtQuick
import QtTest
import Quantscope

// The shared components' logic: number formatting, the severity scale, choosing a combo's
// value, and the charts' axes and series built from page data.
Item {
    width: 800
    height: 600

    LabeledCombo { id: combo; model: ["eight", "four"]; values: [8, 4] }
    LabeledCombo { id: plain; model: ["mse", "minmax"] }
    BarChart { id: bars; width: 400; height: 300 }
    HistogramChart { id: hist; width: 400; height: 300 }

    TestCase {
        name: "Components"
        when: windowShown

        function test_bytes() {
            compare(Theme.bytes(512), "512 B")
            compare(Theme.bytes(2048), "2.0 KB")
            compare(Theme.bytes(3 * 1048576), "3.00 MB")
            compare(Theme.bytes(undefined), "–")
            compare(Theme.percent(-1), "–")
            compare(Theme.percent(91.256, 2), "91.26 %")
        }
        function test_severityIsMonotone() {
            let previous = 3
            for (let s = 0; s <= 1.0001; s += 0.1) {
                const c = Theme.severityColor(s)
                const lightness = c.r + c.g + c.b
                verify(lightness <= previous + 1e-6, "darker as severity grows at " + s)
                previous = lightness
            }
        }
        function test_comboSelect() {
            combo.select(4)
            compare(combo.value, 4)
            combo.select(7)  // unknown: unchanged
            compare(combo.value, 4)
            plain.select("minmax")
            compare(plain.value, "minmax")
        }
        function test_barChartAxis() {
            bars.maxValue = 100
            bars.categories = ["a", "b"]
            bars.values = [30, 60]
            const valueAxis = bars.axisX(bars.series(0))  // horizontal bars: values along x
            compare(valueAxis.max, 100)
            compare(bars.series(0).count, 1)  // one bar set
            bars.values2 = [10, 20]
            compare(bars.series(0).count, 2)
        }
        function test_histogramSteps() {
            hist.lo = -1
            hist.hi = 1
            hist.first = [1, 4, 2, 0]
            hist.second = [2, 3, 2, 0]
            hist.grid = [-1, 0, 1]
            const line = hist.series(0)
            compare(line.count, 2 * 4 + 2)  // two points per bin, closed at both ends
            compare(line.at(2).y, 1)
            compare(line.at(3).x, -0.5)
            compare(hist.series(2).count, 3)
        }
    }
}
