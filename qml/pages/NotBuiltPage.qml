import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Quantscope

// A step of the path that the workbench does not have yet: what it will show, said plainly.
ColumnLayout {
    id: root
    property string title
    property string willShow
    property string meanwhile
    function run() {}
    spacing: Theme.spacing

    PageHeader { title: root.title; subtitle: "Not built yet." }
    ErrorBanner {
        notice: true
        text: "This page is not built yet: nothing on it is computed, and it shows no numbers."
    }
    Section {
        title: "What it will show"
        Layout.fillWidth: true
        Label { text: root.willShow; wrapMode: Text.Wrap; Layout.fillWidth: true }
    }
    Section {
        title: "Meanwhile"
        visible: root.meanwhile !== ""
        Layout.fillWidth: true
        Label { text: root.meanwhile; wrapMode: Text.Wrap; textFormat: Text.StyledText; Layout.fillWidth: true }
    }
    Item { Layout.fillHeight: true }
}
