import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Quantscope
import Quantscope.Bridge

// Post-training quantization with one set of defaults for every layer: calibrate, quantize,
// then score float and quantized on the evaluation set.
RowLayout {
    id: root
    property var result: Workbench.quantization
    readonly property bool hasResult: result.config !== undefined
    function run() {
        Workbench.quantize.run({ weightBits: weightBits.value, actBits: actBits.value,
                             granularity: granularity.value, calibrator: calibrator.value,
                             rounding: rounding.value })
    }
    // The controls start from the project's last quantization settings.
    function loadSettings() {
        const s = Workbench.quantize.settings
        if (s.weightBits === undefined) return
        weightBits.select(s.weightBits)
        actBits.select(s.actBits)
        granularity.select(s.granularity)
        calibrator.select(s.calibrator)
        rounding.select(s.rounding)
    }
    Component.onCompleted: loadSettings()
    Connections { target: Workbench.quantize; function onSettingsChanged() { root.loadSettings() } }
    spacing: Theme.spacing * 2

    ColumnLayout {
        Layout.preferredWidth: 260
        Layout.maximumWidth: 260
        Layout.fillHeight: true
        spacing: Theme.spacing
        Label { text: "Quantize"; font.pixelSize: Theme.titleSize; font.bold: true }
        Label {
            text: "Defaults for every quantizable layer (Conv, Gemm, MatMul). Per-layer settings come with the Tune page."
            color: Theme.muted
            wrapMode: Text.Wrap
            // A fixed width, so that the layout knows the wrapped height before it places the
            // controls below.
            Layout.preferredWidth: 260
        }
        LabeledCombo { id: weightBits; label: "Weight bits"; model: ["8", "6", "4", "3", "2"]; values: [8, 6, 4, 3, 2]; Layout.fillWidth: true }
        LabeledCombo { id: actBits; label: "Activation bits"; model: ["8", "16", "float (weight-only)"]; values: [8, 16, 0]; Layout.fillWidth: true }
        LabeledCombo { id: granularity; label: "Weight granularity"; model: ["per channel", "per tensor"]; values: ["channel", "tensor"]; Layout.fillWidth: true }
        LabeledCombo { id: calibrator; label: "Calibrator (activation ranges)"; model: Workbench.quantize.calibrators; Layout.fillWidth: true }
        LabeledCombo {
            id: rounding
            readonly property var methods: Workbench.quantize.roundings
            label: "Rounding"
            model: methods.map(m => m.label)
            values: methods.map(m => m.value)
            Layout.fillWidth: true
        }
        Button {
            text: "Quantize  (Ctrl+R)"
            highlighted: true
            enabled: Workbench.model.path !== ""
            Layout.fillWidth: true
            onClicked: root.run()
        }
        Label {
            text: "Runs on " + Workbench.device + " with " + (Workbench.data.info.calibrationSamples || 0)
                  + " calibration and " + (Workbench.data.info.evaluationSamples || 0) + " evaluation samples."
            color: Theme.muted
            wrapMode: Text.Wrap
            Layout.fillWidth: true
        }
        Item { Layout.fillHeight: true }
    }

    ColumnLayout {
        Layout.fillWidth: true
        Layout.fillHeight: true
        spacing: Theme.spacing
        ErrorBanner { text: Workbench.quantize.error }
        Label {
            visible: !root.hasResult
            text: Workbench.quantize.running
                  ? "Quantizing… the result appears here."
                  : "No result yet. Choose the settings and press Quantize."
            color: Theme.muted
            font.pixelSize: Theme.fontSize + 2
        }
        Label {
            visible: root.hasResult
            text: "Result for " + (root.result.config || "") + " on " + (root.result.device || "")
                  + " · " + (root.result.samples || 0) + " evaluation samples"
            font.bold: true
            font.pixelSize: Theme.fontSize + 2
            elide: Text.ElideRight  // a long configuration name must not push the tiles off the page
            Layout.fillWidth: true
        }
        GridLayout {
            visible: root.hasResult
            columns: 3
            columnSpacing: Theme.spacing
            rowSpacing: Theme.spacing
            Layout.fillWidth: true
            StatTile {
                label: "Top-1, float"
                value: root.result.hasTop1 ? Theme.percent(root.result.floatTop1, 2) : "–"
                detail: "with the evaluation labels"
                Layout.fillWidth: true
            }
            StatTile {
                readonly property real delta: (root.result.quantTop1 || 0) - (root.result.floatTop1 || 0)
                label: "Top-1, quantized"
                value: root.result.hasTop1 ? Theme.percent(root.result.quantTop1, 2) : "–"
                detail: root.result.hasTop1 ? (delta >= 0 ? "+" : "−") + Math.abs(delta).toFixed(2) + " points vs float" : ""
                valueColor: delta < -1 ? Theme.bad : Theme.text
                Layout.fillWidth: true
            }
            StatTile {
                label: "Top-1 agreement"
                value: Theme.percent(root.result.agreement, 1)
                detail: "samples whose class is the float model's"
                Layout.fillWidth: true
            }
            StatTile {
                label: "Size"
                value: Theme.bytes(root.result.quantBytes)
                detail: "float " + Theme.bytes(root.result.floatBytes) + " · "
                        + (100 * root.result.quantBytes / Math.max(1, root.result.floatBytes)).toFixed(0) + " % of float"
                Layout.fillWidth: true
            }
            StatTile {
                label: "Output KL vs float"
                value: root.result.kl !== undefined ? root.result.kl.toExponential(2) : "–"
                detail: "nats, mean over samples"
                Layout.fillWidth: true
            }
            StatTile {
                label: "Output SQNR"
                value: root.result.sqnrDb !== undefined && root.result.sqnrDb !== null ? root.result.sqnrDb.toFixed(1) + " dB" : "∞"
                detail: root.result.layers + " layers quantized"
                Layout.fillWidth: true
            }
        }
        // The paired count behind the top-1 difference: is it more than chance on this data?
        Label {
            visible: root.hasResult && root.result.hasTop1 === true
            readonly property real zScore: root.result.mcnemarZ || 0
            text: "Paired on the same " + (root.result.samples || 0) + " samples: "
                  + (root.result.onlyFloat || 0) + " right only with the float model, "
                  + (root.result.onlyQuant || 0) + " only with the quantized one (McNemar z = "
                  + (zScore >= 0 ? "+" : "−") + Math.abs(zScore).toFixed(2) + ": "
                  + (Math.abs(zScore) < 1.96 ? "within chance" : "a real difference, 95 %") + ")."
            color: Theme.muted
            wrapMode: Text.Wrap
            Layout.fillWidth: true
        }
        Section {
            title: "Notes"
            visible: root.hasResult && root.result.notes.length > 0
            Layout.fillWidth: true
            Label { text: (root.result.notes || []).join("\n"); wrapMode: Text.Wrap; Layout.fillWidth: true }
        }
        Item { Layout.fillHeight: true }
    }
}
