import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Quantscope
import Quantscope.Bridge

// Weight bits per layer, by hand. Every change updates the predictions at once (sums over the
// sensitivity sweep's per-layer options, no engine call); Measure quantizes with these widths
// and evaluates, and shows prediction and measurement side by side.
ColumnLayout {
    id: root
    readonly property var tune: Workbench.tune.table
    readonly property var totals: tune.totals
    readonly property var measured: Workbench.tune.result
    readonly property bool hasTable: totals.layers > 0
    readonly property bool hasMeasured: measured.bits !== undefined
    function run() { if (hasTable) Workbench.tune.measure(); else Workbench.analyze.run() }
    spacing: Theme.spacing

    PageHeader {
        title: "Tune"
        subtitle: "Weight bits per layer (activations 8 bits). The predicted KL adds each layer's KL alone at its width (Analyze page); size and BOPs are counted; latency comes from the Measure page's table of this device. Measure quantizes with these widths for real; the result becomes the current quantization, the one Export packages."
        Button { text: "All 8"; enabled: root.hasTable; onClicked: root.tune.setAllBits(8) }
        Button { text: "All 4"; enabled: root.hasTable; onClicked: root.tune.setAllBits(4) }
        Button {
            text: root.hasTable ? "Measure  (Ctrl+R)" : "Analyze first  (Ctrl+R)"
            highlighted: true
            onClicked: root.run()
        }
    }
    ErrorBanner { text: Workbench.tune.error }
    Label {
        visible: !root.hasTable
        text: Workbench.analyze.running ? "Analyzing… the table appears when the sweep is done."
              : "The table needs the per-layer sensitivity: run Analyze (the button above), or open a project that has it."
        color: Theme.muted
        font.pixelSize: Theme.fontSize + 2
        wrapMode: Text.Wrap
        Layout.fillWidth: true
    }

    RowLayout {
        visible: root.hasTable
        spacing: Theme.spacing
        Layout.fillWidth: true
        StatTile {
            label: "Output KL, predicted"
            value: (root.totals.predictedKl || 0).toExponential(2)
            detail: "nats; measured " + (root.hasMeasured ? root.measured.kl.toExponential(2) + (root.measured.stale ? " (other widths)" : "") : "–")
            Layout.fillWidth: true
        }
        StatTile {
            label: "Size"
            value: Theme.bytes(Math.round(root.totals.bytes || 0))
            detail: (100 * (root.totals.bytes || 0) / Math.max(1, root.totals.fp32Bytes || 1)).toFixed(0) + " % of float · "
                    + (root.totals.averageBits || 0).toFixed(2) + " bits avg."
            Layout.fillWidth: true
        }
        StatTile {
            label: "BOPs per sample"
            value: ((root.totals.bops || 0) / 1e9).toFixed(3) + " G"
            detail: "MACs × weight × act. bits"
            Layout.fillWidth: true
        }
        StatTile {
            label: "Latency, predicted"
            value: root.totals.latencyMs >= 0 ? root.totals.latencyMs.toFixed(3) + " ms" : "–"
            detail: root.totals.latencyMs >= 0 ? "batch 1 on " + root.totals.latencyDevice : "measure this device on the Measure page"
            Layout.fillWidth: true
        }
        StatTile {
            label: "Top-1, measured"
            value: root.hasMeasured && root.measured.hasTop1 ? root.measured.quantTop1.toFixed(2) + " %" : "–"
            detail: root.hasMeasured ? (root.measured.stale ? "for other widths; press Measure" : "float " + root.measured.floatTop1.toFixed(2) + " % · agree " + root.measured.agreement.toFixed(1) + " %")
                                     : "press Measure"
            valueColor: root.hasMeasured && root.measured.stale ? Theme.muted : Theme.text
            Layout.fillWidth: true
        }
    }

    Section {
        visible: root.hasTable
        title: "Layers"
        Layout.fillWidth: true
        Layout.fillHeight: true

        RowLayout {
            Layout.fillWidth: true
            spacing: 8
            Label { text: "layer"; font.bold: true; Layout.preferredWidth: 220 }
            Label { text: "op"; font.bold: true; Layout.preferredWidth: 70 }
            Label { text: "params"; font.bold: true; Layout.preferredWidth: 70; horizontalAlignment: Text.AlignRight }
            Label { text: "weight bits"; font.bold: true; Layout.preferredWidth: 250 }
            Label { text: "KL alone"; font.bold: true; Layout.preferredWidth: 90; horizontalAlignment: Text.AlignRight }
            Label { text: "size"; font.bold: true; Layout.preferredWidth: 80; horizontalAlignment: Text.AlignRight }
            Label { text: "BOPs"; font.bold: true; Layout.preferredWidth: 80; horizontalAlignment: Text.AlignRight }
            Label { text: "ms"; font.bold: true; Layout.preferredWidth: 70; horizontalAlignment: Text.AlignRight }
        }
        ListView {
            id: list
            model: root.tune
            clip: true
            Layout.fillWidth: true
            Layout.fillHeight: true
            ScrollBar.vertical: ScrollBar {}
            delegate: Rectangle {
                id: row
                required property int index
                required property string layerName
                required property string layerOp
                required property var layerParams
                required property int bits
                required property var choices
                required property var kl
                required property var bytes
                required property var bops
                required property var ms
                required property real severity
                width: list.width
                height: 30
                color: index % 2 ? Theme.rowAlt : Theme.panel
                RowLayout {
                    anchors.fill: parent
                    spacing: 8
                    Label { text: row.layerName; elide: Text.ElideMiddle; Layout.preferredWidth: 220 }
                    Label { text: row.layerOp; color: Theme.muted; Layout.preferredWidth: 70 }
                    Label { text: Number(row.layerParams).toLocaleString(Qt.locale("en_US"), "f", 0); Layout.preferredWidth: 70; horizontalAlignment: Text.AlignRight }
                    Row {
                        Layout.preferredWidth: 250
                        spacing: 2
                        Repeater {
                            model: row.choices
                            delegate: Button {
                                required property int modelData
                                text: modelData
                                highlighted: row.bits === modelData
                                implicitWidth: 38
                                implicitHeight: 24
                                onClicked: root.tune.setBits(row.index, modelData)
                            }
                        }
                    }
                    Rectangle {
                        Layout.preferredWidth: 90
                        Layout.preferredHeight: 22
                        radius: 3
                        color: Theme.severityColor(row.severity)
                        Label {
                            anchors.fill: parent
                            anchors.rightMargin: 6
                            horizontalAlignment: Text.AlignRight
                            verticalAlignment: Text.AlignVCenter
                            text: row.kl !== undefined ? Number(row.kl).toExponential(2) : "–"
                            color: Theme.severityTextColor(row.severity)
                        }
                    }
                    Label { text: Theme.bytes(Math.round(row.bytes)); Layout.preferredWidth: 80; horizontalAlignment: Text.AlignRight }
                    Label { text: (row.bops / 1e6).toFixed(2) + " M"; Layout.preferredWidth: 80; horizontalAlignment: Text.AlignRight }
                    Label { text: row.ms !== undefined && row.ms >= 0 ? Number(row.ms).toFixed(3) : "–"; Layout.preferredWidth: 70; horizontalAlignment: Text.AlignRight }
                    Item { Layout.fillWidth: true }
                }
            }
        }
    }
}
