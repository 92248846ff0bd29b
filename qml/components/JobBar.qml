import QtQuick
import Quantscope
import QtQuick.Controls
import QtQuick.Layouts

// The running job: what it is, how far, and Cancel. Empty when nothing runs.
RowLayout {
    id: root
    property var jobs: workbench.jobs
    spacing: 8
    visible: jobs.busy

    Label { text: root.jobs.kind; font.bold: true; color: "white" }
    ProgressBar {
        Layout.preferredWidth: 180
        from: 0
        to: 1
        value: root.jobs.progress
    }
    Label {
        text: Math.round(root.jobs.progress * 100) + " %  " + root.jobs.message
        color: "#dfe4ec"
        elide: Text.ElideRight
        Layout.preferredWidth: 260
    }
    Button {
        text: "Cancel"
        onClicked: root.jobs.cancel()
        ToolTip.visible: hovered
        ToolTip.text: "Stop the running job (Esc)"
    }
}
