import QtQuick
import Quantscope
import QtQuick.Controls
import QtQuick.Layouts

// Layers × bit widths, each cell coloured by severity (Theme.severityColor) and labelled with its
// value. `model` is a table model with the roles display, severity and toolTip, and header data
// for both orientations.
ColumnLayout {
    id: root
    property var model
    property string legendLow: "harmless"
    property string legendHigh: "output ruined"
    property int labelWidth: 150
    spacing: 6

    GridLayout {
        columns: 2
        rowSpacing: 0
        columnSpacing: 0
        Layout.fillWidth: true
        Layout.fillHeight: true

        Item { implicitWidth: root.labelWidth; implicitHeight: 26 }
        HorizontalHeaderView {
            syncView: cells
            Layout.fillWidth: true
            Layout.preferredWidth: 100
            Layout.preferredHeight: 26
            clip: true
            delegate: Item {
                implicitHeight: 26
                implicitWidth: 48
                Label {
                    anchors.fill: parent
                    text: display
                    font.bold: true
                    horizontalAlignment: Text.AlignHCenter
                    verticalAlignment: Text.AlignVCenter
                }
            }
        }
        VerticalHeaderView {
            syncView: cells
            Layout.preferredWidth: root.labelWidth
            Layout.fillHeight: true
            clip: true
            delegate: Item {
                implicitWidth: root.labelWidth
                implicitHeight: 34
                Label {
                    anchors.fill: parent
                    text: display
                    elide: Text.ElideLeft
                    rightPadding: 8
                    horizontalAlignment: Text.AlignRight
                    verticalAlignment: Text.AlignVCenter
                }
            }
        }
        TableView {
            id: cells
            model: root.model
            Layout.fillWidth: true
            Layout.fillHeight: true
            Layout.preferredWidth: 100
            clip: true
            columnWidthProvider: function () { return Math.max(48, Math.floor(width / Math.max(1, columns))) }
            rowHeightProvider: function () { return 34 }
            onWidthChanged: forceLayout()
            delegate: Rectangle {
                color: Theme.severityColor(severity)
                border.color: "white"
                border.width: 1
                Label {
                    anchors.centerIn: parent
                    text: display
                    color: Theme.severityTextColor(severity)
                }
                HoverHandler { id: hover }
                ToolTip.visible: hover.hovered
                ToolTip.text: toolTip
            }
        }
    }

    RowLayout {
        Layout.alignment: Qt.AlignHCenter
        spacing: 8
        Label { text: root.legendLow; color: Theme.muted; font.pixelSize: Theme.fontSize - 1 }
        Row {
            Repeater {
                model: 16
                Rectangle { width: 10; height: 12; color: Theme.severityColor(index / 15) }
            }
        }
        Label { text: root.legendHigh; color: Theme.muted; font.pixelSize: Theme.fontSize - 1 }
    }
}
