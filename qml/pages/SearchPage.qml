import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Quantscope
import Quantscope.Bridge

// Mixed-precision search by size: the exact Pareto front of predicted loss (the sum of the
// layers' measured KL) against model size, some front points and the uniform baselines
// evaluated for real.
ColumnLayout {
    id: root
    property var result: Workbench.search.result
    readonly property bool hasResult: result.front !== undefined
    readonly property var verified: hasResult ? result.front.filter(p => p.measured).concat(result.baselines.filter(p => p.label.startsWith("uniform"))) : []
    function run() { Workbench.search.run() }
    spacing: Theme.spacing

    PageHeader {
        title: "Search"
        subtitle: "Weight bits per layer (2, 3, 4, 6, 8; activations 8) that give the least predicted output KL for each model size. "
                  + (root.hasResult ? "Float model: " + Theme.bytes(root.result.fp32Bytes)
                                      + (root.result.fp32Top1 >= 0 ? ", top-1 " + root.result.fp32Top1.toFixed(2) + " %" : "")
                                      + (root.result.rankCorrelation !== null && root.result.rankCorrelation !== undefined
                                         ? " · rank correlation predicted vs measured " + root.result.rankCorrelation.toFixed(2) : "") : "")
        Button { text: "Run search  (Ctrl+R)"; highlighted: true; onClicked: root.run() }
    }
    ErrorBanner { text: Workbench.search.error }
    Label {
        visible: !root.hasResult
        text: Workbench.search.running ? "Searching… the front appears here."
              : "No search yet. Press Run search."
        color: Theme.muted
        font.pixelSize: Theme.fontSize + 2
    }

    RowLayout {
        visible: root.hasResult
        spacing: Theme.spacing
        Layout.fillWidth: true
        Layout.fillHeight: true
        ColumnLayout {
            Layout.fillWidth: true
            Layout.fillHeight: true
            Layout.preferredWidth: 6
            ParetoChart {
                id: chart
                front: root.result.front || []
                baselines: root.result.baselines || []
                floatBytes: root.result.fp32Bytes || 0
                Layout.fillWidth: true
                Layout.fillHeight: true
                onPicked: point => {
                    if (!point) return
                    Workbench.tune.loadConfiguration(point.config)
                    ApplicationWindow.window.currentPage = 5  // Tune
                }
            }
            Label {
                text: chart.hoverText !== "" ? chart.hoverText : "Hover a point for its details; click it to load its widths into Tune."
                color: Theme.muted
                elide: Text.ElideRight
                Layout.fillWidth: true
            }
        }
        Section {
            title: "Evaluated for real"
            Layout.fillHeight: true
            Layout.preferredWidth: 4
            Layout.fillWidth: true
            GridLayout {
                columns: 4
                columnSpacing: 14
                rowSpacing: 4
                Layout.fillWidth: true
                Label { text: "point"; font.bold: true }
                Label { text: "size"; font.bold: true; Layout.alignment: Qt.AlignRight }
                Label { text: "top-1"; font.bold: true; Layout.alignment: Qt.AlignRight }
                Label { text: "KL pred. / meas."; font.bold: true; Layout.alignment: Qt.AlignRight }
                Repeater {
                    model: root.verified.length * 4
                    delegate: Label {
                        required property int index
                        readonly property int column: index % 4
                        readonly property var modelData: root.verified[Math.floor(index / 4)]
                        Layout.alignment: column === 0 ? Qt.AlignLeft : Qt.AlignRight
                        text: column === 0 ? modelData.label
                              : column === 1 ? Theme.bytes(modelData.costBytes)
                              : column === 2 ? Theme.percent(modelData.top1, 1)
                              : modelData.predictedKl.toExponential(1) + " / " + modelData.measuredKl.toExponential(1)
                        color: modelData.label.startsWith("uniform") ? Theme.muted : Theme.text
                    }
                }
            }
            Item { Layout.fillHeight: true }
        }
    }
}
