import QtQuick
import Quantscope
import Quantscope.Bridge
import QtQuick.Controls
import QtQuick.Layouts

// The running jobs (at most two run side by side): what each is and how far, and Cancel for all.
// Empty when nothing runs.
RowLayout {
    id: root
    property var jobs: Workbench.jobs
    spacing: 8
    visible: jobs.busy

    Repeater {
        model: root.jobs.running
        RowLayout {
            required property var modelData
            spacing: 8
            Label { text: modelData.kind; font.bold: true; color: "white" }
            ProgressBar {
                Layout.preferredWidth: root.jobs.running.length > 1 ? 60 : 180
                from: 0
                to: 1
                value: modelData.progress
            }
            Label {
                text: Math.round(modelData.progress * 100) + " %  " + modelData.message
                color: "#dfe4ec"
                elide: Text.ElideRight
                Layout.preferredWidth: root.jobs.running.length > 1 ? 90 : 260
            }
        }
    }
    Button {
        text: "Cancel"
        onClicked: root.jobs.cancel()
        ToolTip.visible: hovered
        ToolTip.text: "Stop the running jobs (Esc)"
    }
}
