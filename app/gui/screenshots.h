// `quantscope --screenshots DIR`: computes what every page shows (running the jobs to the end),
// renders each page of the window and writes DIR/<page>.png.
#pragma once

#include <QQmlApplicationEngine>
#include <QString>

namespace qs::gui {

class Workbench;

// Returns the process exit status: 0 when every page rendered without an error, 1 when a page
// shows an error or a picture could not be written (the reasons go to stderr).
int takeScreenshots(QQmlApplicationEngine& engine, Workbench& workbench, const QString& dir);

}  // namespace qs::gui
