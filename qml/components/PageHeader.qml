import QtQuick
import Quantscope
import QtQuick.Controls
import QtQuick.Layouts

// A page's title, a line saying what it shows, and room for the page's actions on the right.
RowLayout {
    id: root
    property string title
    property string subtitle
    default property alias actions: actionRow.data
    Layout.fillWidth: true
    spacing: Theme.spacing

    ColumnLayout {
        Layout.fillWidth: true
        spacing: 2
        Label { text: root.title; font.pixelSize: Theme.titleSize; font.bold: true; color: Theme.text }
        Label {
            text: root.subtitle
            color: Theme.muted
            wrapMode: Text.Wrap
            Layout.fillWidth: true
        }
    }
    RowLayout { id: actionRow; spacing: 8 }
}
