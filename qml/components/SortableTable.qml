import QtQuick
import Quantscope
import QtQuick.Controls
import QtQuick.Layouts

// A table over a QAbstractTableModel (usually a QSortFilterProxyModel): clicking a column header
// sorts by it (again: reverse order). `columnWidths` are fractions of the width.
Rectangle {
    id: root
    property alias model: table.model
    property var columnWidths: []
    property var rightAligned: []  // columns holding numbers
    property int sortColumn: -1
    property int sortOrder: Qt.AscendingOrder
    color: Theme.panel
    border.color: Theme.border
    radius: 4

    function sortBy(column) {
        sortOrder = (column === sortColumn && sortOrder === Qt.AscendingOrder) ? Qt.DescendingOrder
                                                                               : Qt.AscendingOrder
        sortColumn = column
        table.model.sort(column, sortOrder)
    }
    function widthOf(column) {
        const fraction = column < columnWidths.length ? columnWidths[column] : 0.1
        return Math.max(40, Math.floor(fraction * (root.width - 2)))
    }

    HorizontalHeaderView {
        id: header
        syncView: table
        anchors.left: parent.left
        anchors.right: parent.right
        anchors.top: parent.top
        anchors.margins: 1
        clip: true
        delegate: Rectangle {
            implicitHeight: 30
            implicitWidth: 80
            color: "#e9ecf1"
            Label {
                anchors.fill: parent
                anchors.leftMargin: 8
                anchors.rightMargin: 8
                verticalAlignment: Text.AlignVCenter
                horizontalAlignment: root.rightAligned.indexOf(column) >= 0 ? Text.AlignRight : Text.AlignLeft
                text: display + (column === root.sortColumn ? (root.sortOrder === Qt.AscendingOrder ? "  ▲" : "  ▼") : "")
                font.bold: true
                elide: Text.ElideRight
            }
            TapHandler { onTapped: root.sortBy(column) }
        }
    }

    TableView {
        id: table
        anchors.left: parent.left
        anchors.right: parent.right
        anchors.top: header.bottom
        anchors.bottom: parent.bottom
        anchors.margins: 1
        clip: true
        columnWidthProvider: function (column) { return root.widthOf(column) }
        onWidthChanged: forceLayout()
        ScrollBar.vertical: ScrollBar {}
        // A cell whose model gives a tool tip (a node the device does not run, with the reason)
        // is highlighted, and shows the tip on hover.
        delegate: Rectangle {
            id: cell
            readonly property string tip: toolTip === undefined || toolTip === null ? "" : toolTip
            implicitHeight: 28
            color: tip !== "" ? Theme.noticeBackground : row % 2 ? Theme.rowAlt : Theme.panel
            HoverHandler { id: hover }
            ToolTip.visible: hover.hovered && cell.tip !== ""
            ToolTip.text: cell.tip
            Label {
                anchors.fill: parent
                anchors.leftMargin: 8
                anchors.rightMargin: 8
                verticalAlignment: Text.AlignVCenter
                horizontalAlignment: root.rightAligned.indexOf(column) >= 0 ? Text.AlignRight : Text.AlignLeft
                text: display
                elide: Text.ElideMiddle
                color: cell.tip !== "" ? Theme.notice : Theme.text
            }
        }
    }
}
