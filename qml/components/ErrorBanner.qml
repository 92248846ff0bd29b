import QtQuick
import Quantscope
import QtQuick.Controls
import QtQuick.Layouts

// An error in words, shown where the user is looking; hidden when `text` is empty.
Rectangle {
    id: root
    property string text
    property bool notice: false  // a yellow notice instead of a red error
    visible: text !== ""
    color: notice ? Theme.noticeBackground : Theme.errorBackground
    border.color: notice ? "#e8cf7a" : "#f0b7b1"
    radius: 4
    implicitHeight: visible ? label.implicitHeight + 16 : 0
    Layout.fillWidth: true

    Label {
        id: label
        anchors.fill: parent
        anchors.margins: 8
        text: (root.notice ? "" : "Error: ") + root.text
        color: root.notice ? Theme.notice : Theme.error
        wrapMode: Text.Wrap
    }
}
