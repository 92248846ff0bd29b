import QtQuick
import Quantscope
import QtCharts

// One estimate with its standard error per category: a dot at the estimate, a thick bar over
// +-1 standard error and a thin one over +-2. Categories are numbered 1..n along the x axis (the
// page lists the names). Pages set `categories`, `values`, `errors` and `valueTitle`, never the
// chart library's types.
ChartView {
    id: root
    property var categories: []
    property var values: []
    property var errors: []
    property string valueTitle
    property color color: "#2f6fde"
    antialiasing: true
    legend.visible: false
    animationOptions: ChartView.NoAnimation
    backgroundRoundness: 0
    margins { left: 4; right: 12; top: 4; bottom: 4 }

    ValueAxis { id: axisValues; titleText: root.valueTitle; labelFormat: "%.3g" }
    CategoryAxis {
        id: axisLayers
        titleText: "layer (numbered as in the table)"
        labelsPosition: CategoryAxis.AxisLabelsPositionCenter
    }

    function rebuild() {
        root.removeAllSeries()
        const old = Array.from(axisLayers.categoriesLabels)
        for (let i = 0; i < old.length; ++i) axisLayers.remove(old[i])
        const n = root.values.length
        axisLayers.min = 0.5
        axisLayers.max = Math.max(n, 1) + 0.5
        for (let i = 1; i <= n; ++i) axisLayers.append(String(i), i + 0.5)
        let lo = 0, hi = 0
        const bars = []
        for (let i = 0; i < n; ++i)
            for (let k = 2; k >= 1; --k) {
                const bar = root.createSeries(ChartView.SeriesTypeLine, "", axisLayers, axisValues)
                bar.color = Qt.lighter(root.color, 1.4)
                bar.width = k === 2 ? 1.5 : 7
                bars.push(bar)
            }
        const dots = root.createSeries(ChartView.SeriesTypeScatter, "estimate", axisLayers, axisValues)
        dots.markerSize = 11
        dots.color = root.color
        dots.borderColor = "white"
        for (let i = 0; i < n; ++i) {
            const m = root.values[i], e = root.errors[i] || 0
            for (let k = 2; k >= 1; --k) {
                const bar = bars[2 * i + (2 - k)]
                bar.append(i + 1, m - k * e)
                bar.append(i + 1, m + k * e)
            }
            dots.append(i + 1, m)
            lo = Math.min(lo, m - 2 * e)
            hi = Math.max(hi, m + 2 * e)
        }
        axisValues.min = lo
        axisValues.max = hi > lo ? hi * 1.05 : 1
        axisValues.applyNiceNumbers()
    }
    onValuesChanged: rebuild()
    onErrorsChanged: rebuild()
    onCategoriesChanged: rebuild()
    Component.onCompleted: rebuild()
}
