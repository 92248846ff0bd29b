import QtQuick
import Quantscope
import QtCharts

// Two histograms over the same bins, drawn as steps (float and quantized), and optionally the
// levels of a quantization grid as ticks along the bottom. Pages set `lo`, `hi`, `first`,
// `second` (counts per bin) and `grid`.
ChartView {
    id: root
    property real lo: 0
    property real hi: 1
    property var first: []
    property var second: []
    property string firstName: "float"
    property string secondName: "quantized"
    property var grid: []
    property string valueTitle: "value"
    antialiasing: true
    animationOptions: ChartView.NoAnimation
    backgroundRoundness: 0
    legend.alignment: Qt.AlignBottom
    margins { left: 4; right: 12; top: 4; bottom: 4 }

    function steps(series, counts) {
        series.clear()
        const n = counts.length
        if (n === 0) return 0
        const w = (root.hi - root.lo) / n
        let max = 0
        series.append(root.lo, 0)
        for (let i = 0; i < n; ++i) {
            series.append(root.lo + i * w, counts[i])
            series.append(root.lo + (i + 1) * w, counts[i])
            max = Math.max(max, counts[i])
        }
        series.append(root.hi, 0)
        return max
    }
    function rebuild() {
        const max = Math.max(steps(firstSeries, root.first), steps(secondSeries, root.second), 1)
        ticks.clear()
        for (const level of root.grid) ticks.append(level, 0)
        axisX.min = root.lo
        axisX.max = root.hi > root.lo ? root.hi : root.lo + 1
        axisY.max = max * 1.08
        axisY.applyNiceNumbers()
        axisY.min = 0
    }
    onFirstChanged: rebuild()
    onSecondChanged: rebuild()
    onGridChanged: rebuild()
    Component.onCompleted: rebuild()

    ValueAxis { id: axisX; titleText: root.valueTitle; labelFormat: "%.3g" }
    ValueAxis { id: axisY; titleText: "count"; labelFormat: "%.0f" }
    LineSeries { id: firstSeries; name: root.firstName; axisX: axisX; axisY: axisY; color: "#2f6fde"; width: 2 }
    LineSeries { id: secondSeries; name: root.secondName; axisX: axisX; axisY: axisY; color: "#e8710a"; width: 1.5 }
    ScatterSeries {
        id: ticks
        name: "grid levels"
        axisX: axisX
        axisY: axisY
        visible: root.grid.length > 0
        markerShape: ScatterSeries.MarkerShapeRectangle
        markerSize: 5
        color: "#1d2129"
        borderColor: "#1d2129"
    }
}
