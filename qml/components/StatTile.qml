import QtQuick
import Quantscope
import QtQuick.Controls
import QtQuick.Layouts

// One number with its name and a line of detail.
Rectangle {
    id: root
    property string label
    property string value
    property string detail
    property color valueColor: Theme.text
    color: Theme.panel
    border.color: Theme.border
    radius: 4
    implicitWidth: 170
    implicitHeight: 78

    ColumnLayout {
        anchors.fill: parent
        anchors.margins: 10
        spacing: 2
        Label { text: root.label; color: Theme.muted; font.pixelSize: Theme.fontSize - 1 }
        Label {
            text: root.value
            color: root.valueColor
            font.pixelSize: 22
            font.bold: true
            elide: Text.ElideRight
            Layout.fillWidth: true
        }
        Label {
            text: root.detail
            visible: text !== ""
            color: Theme.muted
            font.pixelSize: Theme.fontSize - 2
            elide: Text.ElideRight
            Layout.fillWidth: true
        }
    }
}
