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
    readonly property bool kl: metric.currentIndex >= 1  // KL and HAWQ: nats, lower is better
    readonly property bool hawq: metric.currentIndex === 2
    readonly property var traces: info.hessian || []
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
            model: ["SQNR (dB)", "KL (nats)", "HAWQ estimate"]
            onCurrentIndexChanged: {
                root.table.metric = root.hawq ? "hawq" : root.kl ? "kl" : "sqnr"
                root.refreshBars()
            }
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
        Layout.preferredHeight: 3
        Section {
            title: "Heat map: layers × weight bits (" + (root.hawq ? "HAWQ-V2 estimate tr(H)/n·‖Q(W)−W‖², lower is better"
                   : root.kl ? "output KL in nats, lower is better" : "output SQNR in dB, higher is better") + ")"
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
                valueTitle: root.hawq ? "HAWQ estimate (nats)" : root.kl ? "output KL vs float (nats)" : "output SQNR vs float (dB)"
                categoryTitle: "layer"
                valueFormat: root.kl ? "%.2g" : "%.0f"
            }
        }
    }
    RowLayout {
        visible: root.hasResult && root.traces.length > 0
        spacing: Theme.spacing
        Layout.fillWidth: true
        Layout.fillHeight: true
        Layout.preferredHeight: 2
        Section {
            title: "Hessian traces ±1 and ±2 standard errors (" + (root.info.hessianProbes || 0)
                   + " probes, " + (root.info.hessianSamples || 0) + " samples)"
            Layout.fillWidth: true
            Layout.fillHeight: true
            Layout.preferredWidth: 6
            ErrorBarChart {
                Layout.fillWidth: true
                Layout.fillHeight: true
                categories: root.traces.map(t => t.name)
                values: root.traces.map(t => t.trace)
                errors: root.traces.map(t => t.stderr || 0)
                valueTitle: "tr(H)"
            }
        }
        Section {
            title: "HAWQ estimate beside the measured KL at " + (barBits.currentValue || 4) + " bits"
            Layout.fillWidth: true
            Layout.fillHeight: true
            Layout.preferredWidth: 5
            ListView {
                id: traceList
                Layout.fillWidth: true
                Layout.fillHeight: true
                clip: true
                model: root.traces
                readonly property var widths: [26, Math.max(80, width - 26 - 3 * 96), 96, 96, 96]
                header: Row {
                    Repeater {
                        model: ["#", "layer", "tr(H) ± se", "HAWQ", "KL"]
                        Label { text: modelData; color: Theme.muted; width: traceList.widths[index] }
                    }
                }
                delegate: Row {
                    readonly property var at: modelData.byBits[String(barBits.currentValue || 4)] || {}
                    Label { text: String(index + 1); width: traceList.widths[0] }
                    Label { text: modelData.name; width: traceList.widths[1]; elide: Text.ElideMiddle }
                    Label {
                        width: traceList.widths[2]
                        text: modelData.trace.toPrecision(3) + " ± " + (modelData.stderr === null ? "?" : modelData.stderr.toPrecision(2))
                    }
                    Label { width: traceList.widths[3]; text: at.hawq === null || at.hawq === undefined ? "–" : at.hawq.toExponential(1) }
                    Label { width: traceList.widths[4]; text: at.kl === null || at.kl === undefined ? "–" : at.kl.toExponential(1) }
                }
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
