import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Quantscope

// What the user must know about the project, above every page: an autosave to recover, a model
// file that changed since the save, and a project that could not be opened or saved.
ColumnLayout {
    spacing: Theme.spacing
    visible: workbench.recovery.path !== undefined || workbench.projectNotice !== ""
             || (workbench.errors.project || "") !== ""

    Rectangle {
        visible: workbench.recovery.path !== undefined
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
                text: "Unsaved changes from " + (workbench.recovery.time || "") + " were kept by the autosave (the last session did not save them)."
                color: Theme.notice
                wrapMode: Text.Wrap
                Layout.fillWidth: true
            }
            Button { text: "Recover"; highlighted: true; onClicked: workbench.recover() }
            Button { text: "Discard"; onClicked: workbench.discardRecovery() }
        }
    }
    ErrorBanner { notice: true; text: workbench.projectNotice }
    ErrorBanner { text: workbench.errors.project || "" }
}
