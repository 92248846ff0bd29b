import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Quantscope
import Quantscope.Bridge

// The deployment package of the last quantization: QDQ ONNX, manifest, report, checksums and a
// self-check, evaluated per class so that a class the quantized model treats differently shows.
RowLayout {
    id: root
    property var result: Workbench.exporter.result
    readonly property bool hasResult: result.path !== undefined
    readonly property bool quantized: Workbench.quantizationLabel !== ""
    function run() { Workbench.exporter.run(output.text) }
    spacing: Theme.spacing * 2

    ColumnLayout {
        Layout.preferredWidth: 300
        Layout.maximumWidth: 300
        Layout.fillHeight: true
        spacing: Theme.spacing
        Label { text: "Export"; font.pixelSize: Theme.titleSize; font.bold: true }
        Label {
            text: root.quantized
                  ? "Packages the quantization " + Workbench.quantizationLabel + "."
                  : "Quantize the model first (Quantize page): the package carries that result."
            color: Theme.muted
            wrapMode: Text.Wrap
            Layout.fillWidth: true
        }
        Label { text: "Write to (a folder, or a file ending in .zip)" }
        TextField {
            id: output
            text: Workbench.exporter.suggestedPath
            selectByMouse: true
            Layout.fillWidth: true
        }
        Button {
            text: "Export  (Ctrl+R)"
            highlighted: true
            enabled: root.quantized && output.text !== ""
            Layout.fillWidth: true
            onClicked: root.run()
        }
        Label {
            text: "The package holds model.onnx (QuantizeLinear/DequantizeLinear that ONNX Runtime, TensorRT and OpenVINO fuse into integer kernels), manifest.json, report.html, checksums.sha256 and selfcheck/. It is evaluated on the "
                  + (Workbench.data.info.evaluationSamples || 0) + " evaluation samples, per class."
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
        ErrorBanner { text: Workbench.exporter.error }
        Label {
            visible: !root.hasResult
            text: Workbench.exporter.running
                  ? "Exporting… the package appears here."
                  : "No package written yet."
            color: Theme.muted
            font.pixelSize: Theme.fontSize + 2
        }
        Label {
            visible: root.hasResult
            text: "Written: " + (root.result.path || "") + " · QDQ ONNX, opset " + (root.result.opset || "")
            font.bold: true
            font.pixelSize: Theme.fontSize + 2
            elide: Text.ElideMiddle
            Layout.fillWidth: true
        }
        GridLayout {
            visible: root.hasResult && root.result.evaluated
            columns: 4
            columnSpacing: Theme.spacing
            Layout.fillWidth: true
            StatTile { label: "Top-1, float"; value: Theme.percent(root.result.floatTop1, 2); detail: (root.result.samples || 0) + " samples"; Layout.fillWidth: true }
            StatTile { label: "Top-1, quantized"; value: Theme.percent(root.result.quantTop1, 2); detail: "what model.onnx computes"; Layout.fillWidth: true }
            StatTile { label: "Top-1 agreement"; value: Theme.percent(root.result.agreement, 1); detail: "samples whose class is the float model's"; Layout.fillWidth: true }
            StatTile {
                label: "Classes flagged"
                value: String(root.result.flagged || 0)
                detail: "moved more than " + (root.result.threshold || 2) + " points"
                valueColor: (root.result.flagged || 0) > 0 ? Theme.bad : Theme.text
                Layout.fillWidth: true
            }
        }
        Section {
            title: "Per class: float → quantized top-1"
            visible: root.hasResult && (root.result.classes || []).length > 0
            Layout.fillWidth: true
            GridLayout {
                columns: 5
                columnSpacing: Theme.spacing * 2
                rowSpacing: 2
                Label { text: "class"; font.bold: true }
                Label { text: "samples"; font.bold: true }
                Label { text: "float"; font.bold: true }
                Label { text: "quantized"; font.bold: true }
                Label { text: "change"; font.bold: true }
                Repeater {
                    model: (root.result.classes || []).length * 5
                    Label {
                        readonly property var c: root.result.classes[Math.floor(index / 5)]
                        readonly property int column: index % 5
                        readonly property real change: c.quantTop1 - c.floatTop1
                        text: column === 0 ? String(c.label) + (c.flagged ? "  ⚠" : "")
                            : column === 1 ? String(c.samples)
                            : column === 2 ? c.floatTop1.toFixed(2) + " %"
                            : column === 3 ? c.quantTop1.toFixed(2) + " %"
                            : (change >= 0 ? "+" : "−") + Math.abs(change).toFixed(2)
                        color: c.flagged ? Theme.bad : Theme.text
                        font.bold: c.flagged
                    }
                }
            }
        }
        Section {
            title: "Check it on the target"
            visible: root.hasResult
            Layout.fillWidth: true
            Label {
                text: (root.result.zip ? "Unzip it on the target; then, in its folder:" : "Copy the folder to the target; then, in it:")
                      + " the script checks every file against checksums.sha256, then runs model.onnx on the reference inputs."
                elide: Text.ElideRight
                Layout.fillWidth: true
            }
            Label { text: "node selfcheck/selfcheck.mjs        # with onnxruntime-node"; font.family: "monospace" }
            Label { text: "python3 selfcheck/selfcheck.py      # with onnxruntime for Python"; font.family: "monospace" }
            Label {
                text: (root.result.files || []).length + " files: " + (root.result.files || []).join(", ")
                color: Theme.muted
                elide: Text.ElideRight
                Layout.fillWidth: true
            }
        }
        Section {
            title: "Notes"
            visible: root.hasResult && (root.result.notes || []).length > 0
            Layout.fillWidth: true
            Label { text: (root.result.notes || []).join("\n"); wrapMode: Text.Wrap; Layout.fillWidth: true; color: Theme.muted }
        }
        Item { Layout.fillHeight: true }
    }
}
