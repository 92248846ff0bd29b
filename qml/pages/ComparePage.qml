import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Quantscope
import Quantscope.Bridge

// One evaluation sample through the float and the quantized model: the top-k classes of each
// (or, for image outputs, both images and the error map), and for a chosen layer its activation
// histogram float vs quantized and its weight histogram with the quantization grid.
ColumnLayout {
    id: root
    readonly property var c: Workbench.compare.result
    readonly property bool hasResult: c.sample !== undefined
    readonly property int samples: Workbench.data.info.evaluationSamples || 1
    // A language model: text from a prompt instead of a sample.
    readonly property bool decoder: Workbench.model.decoder
    readonly property var g: Workbench.compare.generation
    function run() {
        if (decoder) Workbench.compare.generate(promptField.text, tokensBox.value)
        else Workbench.compare.run(sampleBox.value)
    }
    function imageSource(i) { return "image://compare/" + i + "?" + (c.generation || 0) }
    spacing: Theme.spacing

    PageHeader {
        title: "Compare"
        subtitle: root.decoder
                  ? "Text the language model writes after a prompt, greedy, with the float model (quantized language models come with part 2 of the language-model work)."
                  : "One sample of the evaluation set through the float model and the current quantization ("
                    + (Workbench.quantizationLabel !== "" ? Workbench.quantizationLabel : "none yet: quantize first") + ")."
        Label { text: "sample"; visible: !root.decoder }
        SpinBox { id: sampleBox; visible: !root.decoder; from: 0; to: Math.max(0, root.samples - 1); editable: true }
        Button { text: "◀"; visible: !root.decoder; onClicked: { sampleBox.decrease(); root.run() } }
        Button { text: "▶"; visible: !root.decoder; onClicked: { sampleBox.increase(); root.run() } }
        Button { text: (root.decoder ? "Generate" : "Compare") + "  (Ctrl+R)"; highlighted: true; onClicked: root.run() }
    }
    ErrorBanner { text: Workbench.compare.error }

    Section {
        title: "Prompt"
        visible: root.decoder
        Layout.fillWidth: true
        RowLayout {
            Layout.fillWidth: true
            TextField {
                id: promptField
                text: "In the beginning"
                Layout.fillWidth: true
                onAccepted: root.run()
            }
            Label { text: "tokens" }
            SpinBox { id: tokensBox; from: 1; to: 1024; value: 48; editable: true }
        }
    }
    Section {
        title: root.g.text !== undefined ? "Float model · " + root.g.device : "Float model"
        visible: root.decoder
        Layout.fillWidth: true
        Label {
            Layout.fillWidth: true
            wrapMode: Text.Wrap
            textFormat: Text.StyledText
            font.pixelSize: Theme.fontSize + 2
            text: root.g.text !== undefined
                  ? "<b>" + root.g.prompt.replace(/&/g, "&amp;").replace(/</g, "&lt;") + "</b>" + root.g.text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/\n/g, "<br>")
                  : (Workbench.compare.running ? "Generating…" : "Write a prompt and press Generate.")
        }
        Label {
            visible: root.g.text !== undefined
            color: Theme.muted
            text: root.g.text === undefined ? "" :
                  root.g.promptTokens + " prompt tokens at " + root.g.prefillTokensPerS.toFixed(0) + " tokens/s (the first run prepares the device) · "
                  + root.g.tokens + " new tokens at " + root.g.decodeTokensPerS.toFixed(1) + " tokens/s"
        }
    }
    Item { visible: root.decoder; Layout.fillHeight: true }
    Label {
        visible: !root.hasResult && !root.decoder
        text: Workbench.compare.running ? "Running the sample…" : "Pick a sample and press Compare."
        color: Theme.muted
        font.pixelSize: Theme.fontSize + 2
    }

    RowLayout {
        visible: root.hasResult
        spacing: Theme.spacing
        Layout.fillWidth: true
        Layout.fillHeight: false
        Layout.preferredHeight: 260
        Layout.maximumHeight: 260
        Section {
            title: "Sample " + (root.c.sample !== undefined ? root.c.sample : "") + (root.c.label ? " · " + root.c.label : "")
            Layout.fillHeight: true
            Layout.preferredWidth: 220
            Image {
                source: root.hasResult ? root.imageSource(0) : ""
                smooth: false
                fillMode: Image.PreserveAspectFit
                Layout.preferredWidth: 140
                Layout.preferredHeight: 140
            }
            Label {
                text: "SQNR " + (root.c.sqnrDb !== null && root.c.sqnrDb !== undefined ? root.c.sqnrDb.toFixed(1) + " dB" : "∞")
                      + " · KL " + (root.c.kl || 0).toExponential(2) + " nats · max |error| " + (root.c.maxAbsError || 0).toPrecision(3)
                color: Theme.muted
                font.pixelSize: Theme.fontSize - 1
                wrapMode: Text.Wrap
                Layout.fillWidth: true
            }
        }
        BarChart {
            visible: root.c.classifier === true
            title: "float top-" + (root.c.floatTopk || []).length
            categories: (root.c.floatTopk || []).map(s => s.name)
            values: (root.c.floatTopk || []).map(s => 100 * s.probability)
            valueTitle: "probability (%)"
            maxValue: 100
            barColor: "#2f6fde"
            Layout.fillWidth: true
            Layout.fillHeight: true
        }
        BarChart {
            visible: root.c.classifier === true
            title: "quantized top-" + (root.c.quantTopk || []).length
            categories: (root.c.quantTopk || []).map(s => s.name)
            values: (root.c.quantTopk || []).map(s => 100 * s.probability)
            valueTitle: "probability (%)"
            maxValue: 100
            barColor: "#e8710a"
            Layout.fillWidth: true
            Layout.fillHeight: true
        }
        Repeater {
            model: root.c.classifier === false && root.c.images > 1 ? ["float output", "quantized output", "error map (yellow: largest)"] : []
            delegate: Section {
                required property int index
                required property string modelData
                title: modelData
                Layout.fillWidth: true
                Layout.fillHeight: true
                Image {
                    source: root.imageSource(index + 1)
                    smooth: false
                    fillMode: Image.PreserveAspectFit
                    Layout.fillWidth: true
                    Layout.fillHeight: true
                }
            }
        }
    }

    RowLayout {
        visible: root.hasResult
        spacing: Theme.spacing
        Layout.fillWidth: true
        Label { text: "layer" }
        ComboBox {
            id: layerBox
            model: (root.c.activations || []).map(a => a.layer)
            Layout.preferredWidth: 300
        }
        Label {
            readonly property var a: (root.c.activations || [])[layerBox.currentIndex]
            text: a ? "output " + a.tensor + " · SQNR " + (a.sqnrDb !== null ? a.sqnrDb.toFixed(1) + " dB" : "∞") : ""
            color: Theme.muted
            Layout.fillWidth: true
            elide: Text.ElideRight
        }
    }
    RowLayout {
        visible: root.hasResult
        spacing: Theme.spacing
        Layout.fillWidth: true
        Layout.fillHeight: true
        readonly property var act: (root.c.activations || [])[layerBox.currentIndex]
        readonly property var weight: (root.c.weights || []).find(w => act && w.layer === act.layer)
        HistogramChart {
            title: "activations of this sample"
            lo: parent.act ? parent.act.lo : 0
            hi: parent.act ? parent.act.hi : 1
            first: parent.act ? parent.act.float : []
            second: parent.act ? parent.act.quant : []
            valueTitle: "activation value"
            Layout.fillWidth: true
            Layout.fillHeight: true
        }
        HistogramChart {
            title: parent.weight ? "weights, " + parent.weight.bits + " bits per " + parent.weight.granularity : "weights (not quantized)"
            lo: parent.weight ? parent.weight.lo : 0
            hi: parent.weight ? parent.weight.hi : 1
            first: parent.weight ? parent.weight.float : []
            second: parent.weight ? parent.weight.quant : []
            secondName: "dequantized"
            grid: parent.weight ? parent.weight.grid : []
            valueTitle: "weight value"
            Layout.fillWidth: true
            Layout.fillHeight: true
        }
    }
}
