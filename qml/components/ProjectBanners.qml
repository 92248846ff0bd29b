import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Quantscope
import Quantscope.Bridge

// What the user must know about the project, above every page: an autosave to recover, a model
// file that changed since the save, and a project that could not be opened or saved.
ColumnLayout {
    spacing: Theme.spacing
    visible: Workbench.project.recovery.path !== undefined || Workbench.project.notice !== ""
             || Workbench.project.error !== ""

    Rectangle {
        visible: Workbench.project.recovery.path !== undefined
        Layout.fillWidth: true
        implicitHeight: recoveryRow.implicitHeight + 16
        color: Theme.noticeBackground
        border.color: "#e8cf7a"
        radius: 4
        RowLayout {
            id: recoveryRow
            anchors.fill: parent
            anchors.margins: 8
            Label {
                text: "Unsaved changes from " + (Workbench.project.recovery.time || "") + " were kept by the autosave (the last session did not save them)."
                color: Theme.notice
                wrapMode: Text.Wrap
                Layout.fillWidth: true
            }
            Button { text: "Recover"; highlighted: true; onClicked: Workbench.project.recover() }
            Button { text: "Discard"; onClicked: Workbench.project.discardRecovery() }
        }
    }
    ErrorBanner { notice: true; text: Workbench.project.notice }
    ErrorBanner { text: Workbench.project.error }
}
