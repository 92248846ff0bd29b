import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Quantscope
import Quantscope.Bridge

// Per-layer sensitivity: each layer's weights quantized alone at each width, the rest in float,
// and how far the output moves from the float model's.
ColumnLayout {
    id: root
    property var table: Workbench.analyze.table
    property var info: Workbench.analyze.result
    readonly property bool hasResult: info.layers !== undefined
    readonly property bool kl: metric.currentIndex >= 1  // KL and HAWQ: nats, lower is better
    readonly property bool hawq: metric.currentIndex === 2
    readonly property var traces: info.hessian || []
    property var bars: []
    function run() { Workbench.analyze.run() }
    function refreshBars() {
        bars = hasResult ? table.barsAt(barBits.currentValue || 4) : []
    }
    spacing: Theme.spacing

    Connections {
        target: Workbench.analyze
        function onResultChanged() { barBits.model = root.table.bitWidths(); barBits.currentIndex = 2; root.refreshBars() }
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
    ErrorBanner { text: Workbench.analyze.error }
    Label {
        visible: !root.hasResult
        text: Workbench.analyze.running ? "Sweeping… the heat map appears here."
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
    // Three equal panels, placed by hand: their contents' implicit widths must not widen the page.
    Item {
        id: secondRow
        visible: root.hasResult && root.traces.length > 0
        readonly property real third: (width - 2 * Theme.spacing) / 3
        Layout.fillWidth: true
        Layout.fillHeight: true
        Layout.preferredHeight: 2
        Section {
            title: "Hessian traces ±1, ±2 s.e. (" + (root.info.hessianProbes || 0)
                   + " probes, " + (root.info.hessianSamples || 0) + " samples)"
            x: 0 * (secondRow.third + Theme.spacing)
            width: secondRow.third
            height: secondRow.height
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
            title: "HAWQ beside the measured KL at " + (barBits.currentValue || 4) + " bits"
            x: 1 * (secondRow.third + Theme.spacing)
            width: secondRow.third
            height: secondRow.height
            ListView {
                id: traceList
                Layout.fillWidth: true
                Layout.fillHeight: true
                clip: true
                model: root.traces
                readonly property var widths: [22, Math.max(70, width - 22 - 80 - 2 * 56), 80, 56, 56]
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
        Section {
            id: errorsSection
            readonly property var e: Workbench.analyze.layerErrors
            readonly property bool has: e.layers !== undefined
            title: "Error per layer: introduced vs accumulated"
            x: 2 * (secondRow.third + Theme.spacing)
            width: secondRow.third
            height: secondRow.height
            Label {
                text: errorsSection.has ? "Output SQNR under " + errorsSection.e.config
                                   + ": the layer alone, and after the layers before it."
                                 : Workbench.quantizationLabel !== ""
                                   ? "Where the error of " + Workbench.quantizationLabel + " is born and where it grows."
                                   : "Quantize first (Quantize or Tune page), then trace where its error is born and grows."
                color: Theme.muted
                wrapMode: Text.Wrap
                font.pixelSize: Theme.fontSize - 1
                Layout.fillWidth: true
            }
            ErrorBanner { text: Workbench.analyze.traceError }
            Button {
                visible: !errorsSection.has
                enabled: Workbench.quantizationLabel !== ""
                text: "Trace errors"
                onClicked: Workbench.analyze.traceErrors()
            }
            // Per layer: SQNR alone and after the layers before it, as numbers and as bars on
            // one scale (longer: less error); the gap is the error the layer inherited.
            ListView {
                id: errorList
                visible: errorsSection.has
                Layout.fillWidth: true
                Layout.fillHeight: true
                clip: true
                model: errorsSection.has ? errorsSection.e.layers : []
                readonly property real scale: {
                    let max = 1
                    for (const l of model) max = Math.max(max, l.introduced || 0, l.accumulated || 0)
                    return max
                }
                function db(v) { return v === null || v === undefined ? "∞" : v.toFixed(1) }
                header: Row {
                    Label { text: "layer"; color: Theme.muted; width: errorList.width * 0.38 }
                    Label { text: "alone"; color: "#2f6fde"; width: errorList.width * 0.14 }
                    Label { text: "after"; color: "#e8710a"; width: errorList.width * 0.14 }
                    Label { text: "SQNR, dB"; color: Theme.muted }
                }
                delegate: Row {
                    required property var modelData
                    height: 22
                    Label { text: modelData.name; elide: Text.ElideMiddle; width: errorList.width * 0.38 }
                    Label { text: errorList.db(modelData.introduced); width: errorList.width * 0.14 }
                    Label { text: errorList.db(modelData.accumulated); width: errorList.width * 0.14 }
                    Column {
                        width: errorList.width * 0.34
                        anchors.verticalCenter: parent.verticalCenter
                        spacing: 2
                        Rectangle {
                            height: 6
                            color: "#2f6fde"
                            width: parent.width * Math.min(1, (modelData.introduced === null ? errorList.scale : modelData.introduced) / errorList.scale)
                        }
                        Rectangle {
                            height: 6
                            color: "#e8710a"
                            width: parent.width * Math.min(1, Math.max(0, (modelData.accumulated === null ? errorList.scale : modelData.accumulated) / errorList.scale))
                        }
                    }
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
