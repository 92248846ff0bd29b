import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Quantscope
import Quantscope.Bridge

// The calibration and evaluation sets and the first samples as the model sees them.
ColumnLayout {
    id: root
    readonly property dataInfo info: Workbench.data.info
    function run() { Workbench.data.open(calibration.text, evaluation.text, limit.value) }
    spacing: Theme.spacing

    PageHeader {
        title: "Data"
        subtitle: "Calibration sets the quantization ranges; evaluation scores float and quantized models. Specs: fashion-mnist:train|test, idx:IMAGES[,LABELS], folder:DIR, npy:X.npy[,Y.npy]; for a language model text:FILE.txt|.jsonl, tokens:IDS.npy."
    }
    ErrorBanner { text: Workbench.data.error }

    RowLayout {
        spacing: Theme.spacing
        Layout.fillWidth: true
        Section {
            title: "Calibration set"
            Layout.fillWidth: true
            Layout.preferredWidth: 1
            TextField { id: calibration; text: root.info.calibration || "fashion-mnist:train"; Layout.fillWidth: true }
            Label { text: root.info.calibrationInfo || ""; color: Theme.muted; wrapMode: Text.Wrap; Layout.fillWidth: true }
        }
        Section {
            title: "Evaluation set"
            Layout.fillWidth: true
            Layout.preferredWidth: 1
            TextField { id: evaluation; text: root.info.evaluation || "fashion-mnist:test"; Layout.fillWidth: true }
            Label { text: root.info.evaluationInfo || ""; color: Theme.muted; wrapMode: Text.Wrap; Layout.fillWidth: true }
        }
        Section {
            // Text is read whole (a language model's windows are cut when it is scored).
            title: root.info.text ? "Text" : "Samples taken"
            Layout.preferredWidth: 220
            SpinBox { id: limit; visible: !root.info.text; from: 10; to: 100000; stepSize: 100; editable: true; value: root.info.limit || 1000 }
            Button { text: "Apply (Ctrl+R)"; onClicked: root.run() }
        }
    }
    Label {
        text: (root.info.text ? "Tokenizer: " : "Preprocessing: ") + (root.info.preprocess || "–") + " · sample shape " + (root.info.sampleShape || "–")
        color: Theme.muted
        wrapMode: Text.Wrap
        Layout.fillWidth: true
    }
    Label {
        text: root.info.text
              ? "First " + Workbench.data.samples.length + " evaluation documents as the model reads them, one colour per token"
              : "First " + Workbench.data.samples.length + " evaluation samples, as the model sees them, with their labels"
        font.bold: true
    }
    ListView {
        id: documents
        visible: root.info.text
        Layout.fillWidth: true
        Layout.fillHeight: true
        clip: true
        spacing: Theme.spacing
        model: root.info.text ? Workbench.data.samples : []
        ScrollBar.vertical: ScrollBar {}
        delegate: Rectangle {
            width: documents.width - 12
            height: body.implicitHeight + 16
            color: Theme.panel
            border.color: Theme.border
            radius: 4
            Label {
                id: body
                anchors.fill: parent
                anchors.margins: 8
                textFormat: Text.RichText
                wrapMode: Text.Wrap
                text: modelData.html
            }
        }
    }
    GridView {
        id: grid
        visible: !root.info.text
        Layout.fillWidth: true
        Layout.fillHeight: true
        clip: true
        cellWidth: 120
        cellHeight: 122
        model: root.info.text ? [] : Workbench.data.samples
        ScrollBar.vertical: ScrollBar {}
        delegate: Column {
            width: grid.cellWidth
            spacing: 4
            Rectangle {
                width: 96; height: 96
                anchors.horizontalCenter: parent.horizontalCenter
                color: "black"
                border.color: Theme.border
                Image {
                    anchors.fill: parent
                    anchors.margins: 1
                    source: modelData.source
                    smooth: false
                    fillMode: Image.PreserveAspectFit
                    cache: false
                }
            }
            Label {
                width: parent.width
                horizontalAlignment: Text.AlignHCenter
                text: modelData.label
                elide: Text.ElideRight
            }
        }
    }
}
