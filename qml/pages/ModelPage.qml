import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Quantscope
import Quantscope.Bridge

// What the model is made of: totals, inputs and outputs, and every layer with the device that
// runs it.
ColumnLayout {
    id: root
    readonly property modelSummary summary: Workbench.model.summary
    function run() {}
    spacing: Theme.spacing

    PageHeader {
        title: "Model"
        subtitle: Workbench.model.path !== "" ? Workbench.model.path : "No model open. Press Ctrl+O to open an ONNX file."
        Button { text: "Open model…"; onClicked: window.openModelDialog() }
    }
    ErrorBanner { text: Workbench.model.error }
    ErrorBanner { notice: true; text: root.summary.imported || "" }

    RowLayout {
        spacing: Theme.spacing
        visible: Workbench.model.path !== ""
        StatTile { label: "Parameters"; value: root.summary.params || "–"; Layout.fillWidth: true }
        StatTile { label: "MACs per sample"; value: root.summary.macs || "–"; Layout.fillWidth: true }
        StatTile { label: "Size in float"; value: Theme.bytes(root.summary.weightBytes); detail: "all initializers"; Layout.fillWidth: true }
        StatTile { label: "Layers"; value: root.summary.layerCount || 0; detail: "ONNX opset " + root.summary.opset; Layout.fillWidth: true }
    }

    Section {
        title: "Inputs and outputs"
        Layout.fillWidth: true
        visible: Workbench.model.path !== ""
        // Side by side: a decoder has a cache input and output per layer.
        GridLayout {
            columns: 4
            columnSpacing: 16
            Label { text: "inputs"; color: Theme.muted; Layout.alignment: Qt.AlignTop }
            Label { text: Workbench.model.inputs.join("\n"); font.family: "monospace"; Layout.alignment: Qt.AlignTop }
            Label { text: "outputs"; color: Theme.muted; Layout.alignment: Qt.AlignTop }
            Label { text: Workbench.model.outputs.join("\n"); font.family: "monospace"; Layout.alignment: Qt.AlignTop; Layout.fillWidth: true }
            Label { text: "ops"; color: Theme.muted }
            Label { text: root.summary.ops || ""; wrapMode: Text.Wrap; Layout.fillWidth: true; Layout.columnSpan: 3 }
        }
    }

    Section {
        readonly property int repeated: Workbench.model.blocks.filter(b => b.filter !== "").length
        title: "Blocks · " + repeated + " repeated blocks, found by the module path in the layers' names · click one to list its layers"
        Layout.fillWidth: true
        visible: Workbench.model.blocks.length > 0
        ListView {
            id: blockList
            Layout.fillWidth: true
            Layout.preferredHeight: 52
            orientation: ListView.Horizontal
            spacing: 8
            clip: true
            model: Workbench.model.blocks
            ScrollBar.horizontal: ScrollBar {}
            delegate: Button {
                required property var modelData
                text: modelData.name + "\n" + modelData.layers + " layers · " + Theme.count(modelData.params) + " params · " + Theme.count(modelData.macs) + " MACs"
                highlighted: modelData.filter !== "" && layerFilter.text === modelData.filter
                onClicked: layerFilter.text = (modelData.filter === "" || layerFilter.text === modelData.filter ? "" : modelData.filter)
            }
        }
    }

    RowLayout {
        Layout.fillWidth: true
        Label { text: "Layers"; font.bold: true; font.pixelSize: Theme.fontSize + 1 }
        Label {
            text: "· click a header to sort · “Runs on” is for the device " + Workbench.device
            color: Theme.muted
            Layout.fillWidth: true
        }
        TextField {
            id: layerFilter
            placeholderText: "Filter by name or op"
            Layout.preferredWidth: 240
            onTextChanged: Workbench.model.filter(text)
        }
    }
    SortableTable {
        model: Workbench.model.layers
        columnWidths: [0.30, 0.11, 0.12, 0.14, 0.17, 0.16]
        rightAligned: [2, 3]
        Layout.fillWidth: true
        Layout.fillHeight: true
    }
}
