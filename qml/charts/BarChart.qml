import QtQuick
import Quantscope
import QtCharts

// One value per category as horizontal bars. Our wrapper around Qt Charts: pages set
// `categories`, `values` and the axis titles, never the chart library's types.
ChartView {
    id: root
    property var categories: []
    property var values: []
    property string valueTitle
    property string categoryTitle
    property color barColor: "#2f6fde"
    property string valueFormat: "%.0f"
    antialiasing: true
    legend.visible: false
    animationOptions: ChartView.NoAnimation
    backgroundRoundness: 0
    margins { left: 4; right: 12; top: 4; bottom: 4 }

    function rebuild() {
        series.clear()
        // Horizontal bars are drawn bottom-up; reverse so the first category is at the top.
        axisCategories.categories = root.categories.slice().reverse()
        let max = 0
        for (let i = 0; i < root.values.length; ++i) max = Math.max(max, root.values[i])
        axisValues.max = max > 0 ? max * 1.1 : 1
        axisValues.applyNiceNumbers()
        if (root.values.length > 0) {
            const set = series.append("", root.values.slice().reverse())
            set.color = root.barColor
            set.borderColor = root.barColor
            set.labelColor = "#1d2129"
        }
    }
    onValuesChanged: rebuild()
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
