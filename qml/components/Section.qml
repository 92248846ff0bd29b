import QtQuick
import Quantscope
import QtQuick.Controls
import QtQuick.Layouts

// A titled white panel; children go into its column.
Rectangle {
    id: root
    property string title
    default property alias content: column.data
    color: Theme.panel
    border.color: Theme.border
    radius: 4
    implicitWidth: column.implicitWidth + 24
    implicitHeight: column.implicitHeight + 24

    ColumnLayout {
        id: column
        anchors.fill: parent
        anchors.margins: 12
        spacing: 8
        Label {
            visible: root.title !== ""
            text: root.title
            elide: Text.ElideRight
            Layout.fillWidth: true
            Layout.minimumWidth: 0
            font.bold: true
            font.pixelSize: Theme.fontSize + 1
            color: Theme.text
        }
    }
}
