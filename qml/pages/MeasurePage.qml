import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Quantscope
import Quantscope.Bridge

// Latency on a real device: the devices and their status, end-to-end statistics of the float
// and the 8-bit model (integer kernels where the device has them), time per layer, and the
// latency table of every width that the Tune page predicts latency from.
ColumnLayout {
    id: root
    readonly property var m: Workbench.measure.result
    readonly property bool hasResult: m.device !== undefined
    function run() { Workbench.measure.run() }
    function ms(x) { return x === undefined || x === null ? "–" : x < 0.1 ? (1000 * x).toFixed(1) + " µs" : x.toFixed(3) + " ms" }
    spacing: Theme.spacing

    PageHeader {
        title: "Measure"
        subtitle: "Batch 1, random inputs of the model's shapes; 3 warm-up runs, then at least 20 timed runs and 0.3 s. The 8-bit model runs "
                  + (root.hasResult && !root.m.integerKernels ? "as simulated quantization (this device has no integer kernels)" : "on integer kernels where the device has them") + "."
        Button { text: "Measure on " + Workbench.device + "  (Ctrl+R)"; highlighted: true; onClicked: root.run() }
    }
    ErrorBanner { text: Workbench.measure.error }

    RowLayout {
        spacing: Theme.spacing
        Layout.fillWidth: true
        Layout.fillHeight: false
        Layout.maximumHeight: 240
        Section {
            title: "Devices"
            Layout.preferredWidth: 380
            Layout.fillHeight: true
            Repeater {
                model: Workbench.measure.deviceStatus
                delegate: Label {
                    required property var modelData
                    text: (modelData.usable ? "✓  " : "✗  ") + modelData.name
                          + (modelData.usable ? (modelData.name === Workbench.device ? "  (selected)" : "") : "  — " + modelData.reason)
                    color: modelData.usable ? Theme.text : Theme.muted
                    wrapMode: Text.Wrap
                    Layout.fillWidth: true
                }
            }
            Label {
                visible: root.hasResult
                text: root.hasResult ? Object.keys(root.m.environment).map(k => k + ": " + root.m.environment[k]).join("\n") : ""
                color: Theme.muted
                font.pixelSize: Theme.fontSize - 2
                wrapMode: Text.Wrap
                Layout.fillWidth: true
            }
            Item { Layout.fillHeight: true }
        }
        GridLayout {
            visible: root.hasResult
            columns: 3
            columnSpacing: Theme.spacing
            rowSpacing: Theme.spacing
            Layout.fillWidth: true
            StatTile {
                label: "Float, median"
                value: root.hasResult ? root.ms(root.m.float.median) : ""
                detail: root.hasResult ? "p90 " + root.ms(root.m.float.p90) + " · p99 " + root.ms(root.m.float.p99) + " · cv " + (100 * root.m.float.cv).toFixed(1) + " %" : ""
                Layout.fillWidth: true
            }
            StatTile {
                label: (root.m.integerKernels ? "int8" : "W8A8 simulated") + ", median"
                value: root.hasResult ? root.ms(root.m.quant.median) : ""
                detail: root.hasResult ? "p90 " + root.ms(root.m.quant.p90) + " · p99 " + root.ms(root.m.quant.p99) + " · cv " + (100 * root.m.quant.cv).toFixed(1) + " %" : ""
                Layout.fillWidth: true
            }
            StatTile {
                label: "Speed-up, median"
                value: root.hasResult ? (root.m.float.median / root.m.quant.median).toFixed(2) + " ×" : ""
                detail: root.hasResult ? (root.m.float.unstable || root.m.quant.unstable ? "unstable: cv above 5 %, measure again" : root.m.float.runs + " and " + root.m.quant.runs + " runs") : ""
                valueColor: root.hasResult && root.m.float.median > root.m.quant.median ? Theme.good : Theme.text
                Layout.fillWidth: true
            }
            StatTile {
                label: "Throughput, float"
                value: root.hasResult ? root.m.float.throughput.toFixed(0) + " /s" : ""
                detail: root.hasResult ? "first run " + root.ms(root.m.float.cold) + " · " + root.m.float.threads + " threads" : ""
                Layout.fillWidth: true
            }
            StatTile {
                label: "Throughput, 8-bit"
                value: root.hasResult ? root.m.quant.throughput.toFixed(0) + " /s" : ""
                detail: root.hasResult ? "first run " + root.ms(root.m.quant.cold) : ""
                Layout.fillWidth: true
            }
            StatTile {
                label: "Latency table (Tune)"
                value: root.hasResult ? root.m.widths.length + " widths" : ""
                detail: root.hasResult ? root.m.widths.map(w => w.bits + "b " + root.ms(w.ms)).join(" · ") : ""
                Layout.fillWidth: true
            }
        }
    }
    Label {
        visible: !root.hasResult
        text: Workbench.measure.running ? "Measuring… the results appear here." : "Nothing measured on this device yet. Press Measure."
        color: Theme.muted
        font.pixelSize: Theme.fontSize + 2
    }
    BarChart {
        visible: root.hasResult
        title: "Time per layer (median, ms)"
        categories: root.hasResult ? root.m.layers.map(l => l.name + " (" + l.op + ")") : []
        values: root.hasResult ? root.m.layers.map(l => l.floatMs) : []
        values2: root.hasResult ? root.m.layers.map(l => l.quantMs === null || l.quantMs === undefined ? 0 : l.quantMs) : []
        name: "float"
        name2: root.m.integerKernels ? "int8" : "W8A8 simulated"
        valueTitle: "milliseconds"
        valueFormat: "%.3f"
        Layout.fillWidth: true
        Layout.fillHeight: true
    }
}
