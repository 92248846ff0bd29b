import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Quantscope

// Per-layer sensitivity: each layer's weights quantized alone at each width, the rest in float,
// and how far the output moves from the float model's.
ColumnLayout {
    id: root
    property var table: workbench.sensitivity
    property var info: workbench.analysis
    readonly property bool hasResult: info.layers !== undefined
    readonly property bool kl: metric.currentIndex === 1
    property var bars: []
    function run() { workbench.analyze() }
    function refreshBars() {
        bars = hasResult ? table.barsAt(barBits.currentValue || 4) : []
    }
    spacing: Theme.spacing

    Connections {
        target: workbench
        function onAnalysisChanged() { barBits.model = root.table.bitWidths(); barBits.currentIndex = 2; root.refreshBars() }
    }

    PageHeader {
        title: "Analyze"
        subtitle: "Sensitivity of each layer: its weights quantized alone at each bit width, every other layer in float. "
                  + (root.hasResult ? root.info.samples + " evaluation samples on " + root.info.device
                                      + (root.info.fp32Top1 >= 0 ? " · float top-1 " + root.info.fp32Top1.toFixed(2) + " %" : "") : "")
        Label { text: "Measure"; color: Theme.muted }
        ComboBox {
            id: metric
            model: ["SQNR (dB)", "KL (nats)"]
            onCurrentIndexChanged: { root.table.metric = root.kl ? "kl" : "sqnr"; root.refreshBars() }
        }
        Button { text: "Run sweep  (Ctrl+R)"; highlighted: true; onClicked: root.run() }
    }
    ErrorBanner { text: workbench.errors.analyze || "" }
    Label {
        visible: !root.hasResult
        text: workbench.jobs.busy && workbench.jobs.kind === "analyze" ? "Sweeping… the heat map appears here."
              : "No sweep yet. Press Run sweep."
        color: Theme.muted
        font.pixelSize: Theme.fontSize + 2
    }

    RowLayout {
        visible: root.hasResult
        spacing: Theme.spacing
        Layout.fillWidth: true
        Layout.fillHeight: true
        Section {
            title: "Heat map: layers × weight bits (" + (root.kl ? "output KL in nats, lower is better" : "output SQNR in dB, higher is better") + ")"
            Layout.fillWidth: true
            Layout.fillHeight: true
            Layout.preferredWidth: 6
            HeatMap {
                model: root.table
                Layout.fillWidth: true
                Layout.fillHeight: true
                legendLow: root.kl ? "≤ 1e-4 nats: harmless" : "≥ 40 dB: harmless"
                legendHigh: root.kl ? "≥ 1 nat: output ruined" : "0 dB: output ruined"
            }
        }
        Section {
            title: "Per layer at one width"
            Layout.fillWidth: true
            Layout.fillHeight: true
            Layout.preferredWidth: 5
            RowLayout {
                Label { text: "Weight bits" }
                ComboBox { id: barBits; onActivated: root.refreshBars() }
            }
            BarChart {
                Layout.fillWidth: true
                Layout.fillHeight: true
                categories: root.bars.map(b => b.name)
                values: root.bars.map(b => b.value)
                valueTitle: root.kl ? "output KL vs float (nats)" : "output SQNR vs float (dB)"
                categoryTitle: "layer"
                valueFormat: root.kl ? "%.2g" : "%.0f"
            }
        }
    }
    Label {
        visible: root.hasResult && (root.info.notes || []).length > 0
        text: "Notes: " + (root.info.notes || []).join(" · ")
        color: Theme.muted
        wrapMode: Text.Wrap
        Layout.fillWidth: true
    }
}
