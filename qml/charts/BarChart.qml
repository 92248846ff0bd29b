import QtQuick
import Quantscope
import QtCharts

// One value per category as horizontal bars, or two side by side (`values2`, with the names
// `name` and `name2` in a legend). Our wrapper around Qt Charts: pages set `categories`,
// `values` and the axis titles, never the chart library's types.
ChartView {
    id: root
    property var categories: []
    property var values: []
    property string valueTitle
    property string categoryTitle
    property color barColor: "#2f6fde"
    property string valueFormat: "%.0f"
    property real maxValue: 0  // > 0: a fixed end of the value axis (100 for percentages)
    property var values2: []
    property string name
    property string name2
    property color barColor2: "#e8710a"
    antialiasing: true
    legend.visible: values2.length > 0
    legend.alignment: Qt.AlignBottom
    animationOptions: ChartView.NoAnimation
    backgroundRoundness: 0
    margins { left: 4; right: 12; top: 4; bottom: 4 }

    function rebuild() {
        series.clear()
        // Horizontal bars are drawn bottom-up; reverse so the first category is at the top.
        axisCategories.categories = root.categories.slice().reverse()
        let max = 0
        for (const v of root.values.concat(root.values2)) max = Math.max(max, v)
        axisValues.max = root.maxValue > 0 ? root.maxValue : max > 0 ? max * 1.1 : 1
        if (root.maxValue <= 0) axisValues.applyNiceNumbers()
        if (root.values.length > 0) {
            const set = series.append(root.name, root.values.slice().reverse())
            set.color = root.barColor
            set.borderColor = root.barColor
            set.labelColor = "#1d2129"
        }
        if (root.values2.length > 0) {
            const set = series.append(root.name2, root.values2.slice().reverse())
            set.color = root.barColor2
            set.borderColor = root.barColor2
            set.labelColor = "#1d2129"
        }
    }
    onValuesChanged: rebuild()
    onValues2Changed: rebuild()
    onNameChanged: rebuild()
    onName2Changed: rebuild()
    onCategoriesChanged: rebuild()
    Component.onCompleted: rebuild()

    HorizontalBarSeries {
        id: series
        labelsVisible: true
        labelsPosition: AbstractBarSeries.LabelsInsideEnd
        labelsFormat: "@value"
        labelsPrecision: 3
        axisY: BarCategoryAxis { id: axisCategories; titleText: root.categoryTitle }
        axisX: ValueAxis {
            id: axisValues
            min: 0
            titleText: root.valueTitle
            labelFormat: root.valueFormat
        }
    }
}
