import QtQuick
import Quantscope
import QtQuick.Controls
import QtQuick.Layouts

// The steps of the user's path, in order. A tick marks a step with a result; a step that is not
// built yet says so.
Rectangle {
    id: root
    property var pages: []      // [{name, built, done}]
    property int currentIndex: 0
    signal selected(int index)
    color: Theme.sidebar
    implicitWidth: 176

    ColumnLayout {
        anchors.fill: parent
        anchors.topMargin: 10
        spacing: 2
        Repeater {
            model: root.pages
            delegate: Rectangle {
                required property var modelData
                required property int index
                Layout.fillWidth: true
                Layout.leftMargin: 6
                Layout.rightMargin: 6
                implicitHeight: 36
                radius: 4
                color: index === root.currentIndex ? Theme.accent : (hover.hovered ? "#2c3342" : "transparent")
                HoverHandler { id: hover }
                TapHandler { onTapped: root.selected(index) }
                RowLayout {
                    anchors.fill: parent
                    anchors.leftMargin: 10
                    anchors.rightMargin: 8
                    spacing: 8
                    Label {
                        text: (index + 1)
                        color: index === root.currentIndex ? "white" : Theme.sidebarMuted
                        font.pixelSize: Theme.fontSize - 2
                        Layout.preferredWidth: 10
                    }
                    Label {
                        text: modelData.name
                        color: index === root.currentIndex ? "white"
                               : (modelData.built ? Theme.sidebarText : Theme.sidebarMuted)
                        font.bold: index === root.currentIndex
                        Layout.fillWidth: true
                    }
                    Label {
                        text: modelData.done ? "✓" : (modelData.built ? "" : "later")
                        color: modelData.done ? "#8fd19e" : Theme.sidebarMuted
                        font.pixelSize: modelData.done ? Theme.fontSize : Theme.fontSize - 3
                    }
                }
            }
        }
        Item { Layout.fillHeight: true }
        Label {
            Layout.margins: 10
            Layout.fillWidth: true
            text: "Ctrl+1…9 pages · Ctrl+R run\nCtrl+O open · Esc cancel"
            color: Theme.sidebarMuted
            font.pixelSize: Theme.fontSize - 3
            wrapMode: Text.Wrap
        }
    }
}
