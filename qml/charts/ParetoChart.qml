import QtQuick
import Quantscope
import QtCharts

// The Pareto front of a bit-width search: model size against output KL (log scale), the front's
// predicted points as a line, the verified front points as measured, and the uniform baselines
// as measured. Pages set `front`, `baselines` and `floatBytes`; hovering a point shows its details
// in `hoverText`; clicking one emits `picked` with it.
ChartView {
    id: root
    property var front: []
    property var baselines: []
    property real floatBytes: 0
    property string hoverText: ""
    signal picked(var point)
    antialiasing: true
    animationOptions: ChartView.NoAnimation
    backgroundRoundness: 0
    legend.alignment: Qt.AlignBottom
    margins { left: 4; right: 12; top: 4; bottom: 4 }

    function kl(x) { return Math.max(x, 1e-6) }
    function describe(p) {
        let text = p.label + " · " + (p.costBytes / 1024).toFixed(1) + " KB · predicted KL "
                   + p.predictedKl.toExponential(2)
        if (p.measured)
            text += " · measured KL " + p.measuredKl.toExponential(2)
                    + (p.top1 >= 0 ? " · top-1 " + p.top1.toFixed(1) + " %" : "")
        return text
    }
    function nearest(list, point) {
        let best = null, distance = 1e30
        for (let i = 0; i < list.length; ++i) {
            const d = Math.abs(list[i].costBytes / 1024 - point.x)
            if (d < distance) { distance = d; best = list[i] }
        }
        return best
    }
    function rebuild() {
        predicted.clear(); measured.clear(); uniform.clear()
        let xmax = 0, ymin = 1, ymax = 1e-3
        const all = root.front.concat(root.baselines)
        for (let i = 0; i < all.length; ++i) {
            const p = all[i]
            xmax = Math.max(xmax, p.costBytes / 1024)
            for (const v of [p.predictedKl, p.measured ? p.measuredKl : p.predictedKl]) {
                ymin = Math.min(ymin, kl(v)); ymax = Math.max(ymax, kl(v))
            }
        }
        for (const p of root.front) {
            predicted.append(p.costBytes / 1024, kl(p.predictedKl))
            if (p.measured) measured.append(p.costBytes / 1024, kl(p.measuredKl))
        }
        for (const p of root.baselines)
            if (p.measured && p.label.startsWith("uniform")) uniform.append(p.costBytes / 1024, kl(p.measuredKl))
        axisX.max = Math.max(1, Math.ceil(xmax * 1.08))
        axisX.applyNiceNumbers()
        axisX.min = 0
        axisY.min = Math.pow(10, Math.floor(Math.log10(ymin)))
        axisY.max = Math.pow(10, Math.ceil(Math.log10(ymax)))
    }
    onFrontChanged: rebuild()
    onBaselinesChanged: rebuild()
    Component.onCompleted: rebuild()

    ValueAxis {
        id: axisX
        min: 0
        titleText: "model size (KB)"
        labelFormat: "%.0f"
    }
    LogValueAxis {
        id: axisY
        base: 10
        titleText: "output KL vs float (nats, log scale)"
        labelFormat: "%.0e"
    }
    LineSeries {
        id: predicted
        name: "front, predicted"
        axisX: axisX
        axisY: axisY
        color: "#2f6fde"
        width: 2
        pointsVisible: true
        onHovered: (point, state) => root.hoverText = state ? root.describe(root.nearest(root.front, point)) : ""
        onClicked: point => root.picked(root.nearest(root.front, point))
    }
    ScatterSeries {
        id: measured
        name: "front, measured"
        axisX: axisX
        axisY: axisY
        color: "#e8710a"
        borderColor: "white"
        markerSize: 12
        onHovered: (point, state) => root.hoverText = state ? root.describe(root.nearest(root.front, point)) : ""
        onClicked: point => root.picked(root.nearest(root.front, point))
    }
    ScatterSeries {
        id: uniform
        name: "uniform bits, measured"
        axisX: axisX
        axisY: axisY
        markerShape: ScatterSeries.MarkerShapeRectangle
        color: "#5a6270"
        borderColor: "white"
        markerSize: 11
        onHovered: (point, state) => root.hoverText = state ? root.describe(root.nearest(root.baselines, point)) : ""
        onClicked: point => root.picked(root.nearest(root.baselines, point))
    }
}
