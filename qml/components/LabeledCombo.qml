import QtQuick
import Quantscope
import QtQuick.Controls
import QtQuick.Layouts

// A label above a combo box; `values` are what the engine gets, `model` what the user reads.
ColumnLayout {
    id: root
    property string label
    property alias model: combo.model
    property var values: []
    property alias currentIndex: combo.currentIndex
    readonly property var value: values.length > combo.currentIndex ? values[combo.currentIndex] : combo.currentText
    spacing: 2
    Label { text: root.label; color: Theme.muted }
    ComboBox { id: combo; Layout.fillWidth: true }
}
