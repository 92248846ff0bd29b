import QtQuick
import QtQuick.Controls
import QtQuick.Dialogs
import QtQuick.Layouts
import Quantscope
import Quantscope.Bridge

// The workbench window: tool bar (model, device, running job), the steps of the user's path in
// the side bar, the current page, and a status bar with the current configuration.
ApplicationWindow {
    id: window
    width: 1280
    height: 800
    minimumWidth: 1024
    minimumHeight: 680
    visible: true
    color: Theme.window
    font.pixelSize: Theme.fontSize
    readonly property string projectName: Workbench.project.path !== "" ? Workbench.project.path.split("/").pop() : "untitled project"
    title: "Quantscope — " + projectName + (Workbench.modified ? " *" : "") + " — "
           + (Workbench.model.path !== "" ? Workbench.model.path.split("/").pop() : "no model")

    property int currentPage: 0
    readonly property var pageNames: ["Model", "Data", "Quantize", "Analyze", "Search", "Tune",
                                      "Compare", "Measure", "Export"]
    readonly property var quant: Workbench.quantization

    function openModelDialog() { fileDialog.open() }
    function saveProject() {
        if (Workbench.project.path === "") saveDialog.open()
        else Workbench.project.save()
    }
    property bool closeConfirmed: false
    onClosing: close => {
        if (Workbench.modified && !closeConfirmed) {
            close.accepted = false
            closeDialog.open()
        }
    }
    function runCurrentPage() {
        const page = pages.children[currentPage]
        if (page && page.run) page.run()
    }

    FileDialog {
        id: fileDialog
        title: "Open an ONNX model"
        nameFilters: ["ONNX models (*.onnx)", "All files (*)"]
        onAccepted: Workbench.project.create(selectedFile)
    }
    FileDialog {
        id: projectDialog
        title: "Open a project"
        nameFilters: ["Quantscope projects (*.qsproj)", "All files (*)"]
        onAccepted: Workbench.project.open(selectedFile)
    }
    FileDialog {
        id: saveDialog
        title: "Save the project"
        fileMode: FileDialog.SaveFile
        defaultSuffix: "qsproj"
        nameFilters: ["Quantscope projects (*.qsproj)"]
        onAccepted: Workbench.project.save(selectedFile)
    }
    Dialog {
        id: closeDialog
        title: "Unsaved changes"
        anchors.centerIn: parent
        modal: true
        standardButtons: Dialog.Save | Dialog.Discard | Dialog.Cancel
        Label {
            text: "Save the changes to " + window.projectName + " before closing?\nUnsaved changes are kept in the autosave and offered at the next start."
        }
        onAccepted: {
            window.saveProject()
            if (!Workbench.modified) { window.closeConfirmed = true; window.close() }
        }
        onDiscarded: { Workbench.project.discardChanges(); window.closeConfirmed = true; window.close() }
    }

    Shortcut { sequence: "Ctrl+O"; onActivated: window.openModelDialog() }
    Shortcut { sequence: "Ctrl+Shift+O"; onActivated: projectDialog.open() }
    Shortcut { sequence: "Ctrl+S"; onActivated: window.saveProject() }
    Shortcut { sequence: "Ctrl+Shift+S"; onActivated: saveDialog.open() }
    Shortcut { sequence: "Ctrl+R"; onActivated: window.runCurrentPage() }
    Shortcut { sequence: "Esc"; onActivated: Workbench.jobs.cancel() }
    Shortcut { sequence: "Ctrl+Q"; onActivated: Qt.quit() }
    Shortcut { sequence: "Ctrl+1"; onActivated: window.currentPage = 0 }
    Shortcut { sequence: "Ctrl+2"; onActivated: window.currentPage = 1 }
    Shortcut { sequence: "Ctrl+3"; onActivated: window.currentPage = 2 }
    Shortcut { sequence: "Ctrl+4"; onActivated: window.currentPage = 3 }
    Shortcut { sequence: "Ctrl+5"; onActivated: window.currentPage = 4 }
    Shortcut { sequence: "Ctrl+6"; onActivated: window.currentPage = 5 }
    Shortcut { sequence: "Ctrl+7"; onActivated: window.currentPage = 6 }
    Shortcut { sequence: "Ctrl+8"; onActivated: window.currentPage = 7 }
    Shortcut { sequence: "Ctrl+9"; onActivated: window.currentPage = 8 }

    header: ToolBar {
        background: Rectangle { color: "#161a22" }
        implicitHeight: 48
        RowLayout {
            anchors.fill: parent
            anchors.leftMargin: 14
            anchors.rightMargin: 14
            spacing: 14
            Label { text: "Quantscope"; color: "white"; font.bold: true; font.pixelSize: 16 }
            ToolButton {
                id: projectButton
                text: "Project ▾"
                onClicked: projectMenu.open()
                palette.buttonText: "white"
                Menu {
                    id: projectMenu
                    y: projectButton.height
                    MenuItem { text: "New from a model…  (Ctrl+O)"; onTriggered: window.openModelDialog() }
                    MenuItem { text: "Open project…  (Ctrl+Shift+O)"; onTriggered: projectDialog.open() }
                    MenuItem { text: "Save  (Ctrl+S)"; onTriggered: window.saveProject() }
                    MenuItem { text: "Save as…  (Ctrl+Shift+S)"; onTriggered: saveDialog.open() }
                    MenuSeparator { visible: Workbench.project.recent.length > 0 }
                    Repeater {
                        model: Workbench.project.recent
                        MenuItem {
                            required property string modelData
                            text: modelData.split("/").pop() + "   " + modelData
                            onTriggered: Workbench.project.open(modelData)
                        }
                    }
                }
            }
            Label {
                text: window.projectName + (Workbench.modified ? " *" : "") + "  ·  "
                      + (Workbench.model.path !== "" ? Workbench.model.path.split("/").pop() : "no model")
                color: "#aeb6c4"
            }
            Item { Layout.fillWidth: true }
            JobBar {}
            Label { text: "device"; color: "#aeb6c4" }
            ComboBox {
                model: Workbench.devices
                currentIndex: Workbench.devices.indexOf(Workbench.device)
                onActivated: Workbench.device = currentText
                Layout.preferredWidth: 150
            }
        }
    }

    footer: Rectangle {
        implicitHeight: 28
        color: "#e6e9ee"
        border.color: Theme.border
        Label {
            anchors.fill: parent
            anchors.leftMargin: 12
            verticalAlignment: Text.AlignVCenter
            color: Theme.text
            elide: Text.ElideRight
            text: {
                let s = (Workbench.model.path !== "" ? Workbench.model.path.split("/").pop() : "no model") + " · " + (Workbench.model.summary.params || "–")
                        + " params · float " + Theme.bytes(Workbench.model.summary.weightBytes)
                if (window.quant.config !== undefined)
                    s += "   |   " + window.quant.config + " · " + Theme.bytes(window.quant.quantBytes)
                         + " (" + (100 * window.quant.quantBytes / window.quant.floatBytes).toFixed(0) + " % of float)"
                         + (window.quant.hasTop1 ? " · top-1 " + window.quant.quantTop1.toFixed(2) + " % (float "
                                                    + window.quant.floatTop1.toFixed(2) + " %)" : "")
                else
                    s += "   |   not quantized yet"
                return s + "   |   device " + Workbench.device
            }
        }
    }

    RowLayout {
        anchors.fill: parent
        spacing: 0

        Sidebar {
            Layout.fillHeight: true
            currentIndex: window.currentPage
            onSelected: index => window.currentPage = index
            pages: [
                { name: "Model", built: true, done: Workbench.model.path !== "" },
                { name: "Data", built: true, done: Workbench.data.samples.length > 0 },
                { name: "Quantize", built: true, done: window.quant.config !== undefined },
                { name: "Analyze", built: true, done: Workbench.analyze.result.layers !== undefined },
                { name: "Search", built: true, done: Workbench.search.result.front !== undefined },
                { name: "Tune", built: true, done: Workbench.tune.result.bits !== undefined },
                { name: "Compare", built: true, done: Workbench.compare.result.sample !== undefined },
                { name: "Measure", built: true, done: Workbench.measure.result.device !== undefined },
                { name: "Export", built: true, done: Workbench.exporter.result.path !== undefined }
            ]
        }

        ColumnLayout {
            Layout.fillWidth: true
            Layout.fillHeight: true
            Layout.margins: 16
            spacing: Theme.spacing

        ProjectBanners { Layout.fillWidth: true }

        StackLayout {
            id: pages
            currentIndex: window.currentPage
            Layout.fillWidth: true
            Layout.fillHeight: true

            ModelPage {}
            DataPage {}
            QuantizePage {}
            AnalyzePage {}
            SearchPage {}
            TunePage {}
            ComparePage {}
            MeasurePage {}
            ExportPage {}
        }
        }
    }
}
