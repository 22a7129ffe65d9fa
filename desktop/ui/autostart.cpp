#include "autostart.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QStandardPaths>

namespace filesync {

namespace {
// An Exec= argument as the Desktop Entry Specification wants it: quoted when it holds
// a reserved character, with the characters ", `, $ and backslash escaped inside the
// quotes, and every backslash doubled once more (the value itself is an escaped string).
QString execArgument(const QString &argument)
{
    static const QString reserved = QStringLiteral(" \t\n\"'\\><~|&;$*?#()`");
    bool plain = !argument.isEmpty();
    for (QChar c : argument)
        plain = plain && !reserved.contains(c);
    if (plain)
        return argument;
    QString quoted = QStringLiteral("\"");
    for (QChar c : argument) {
        if (c == u'"' || c == u'`' || c == u'$')
            quoted += QStringLiteral("\\\\");
        else if (c == u'\\')
            quoted += QStringLiteral("\\\\\\");
        quoted += c;
    }
    return quoted + u'"';
}
} // namespace

QString Autostart::entryPath()
{
    return QStandardPaths::writableLocation(QStandardPaths::GenericConfigLocation)
        + QStringLiteral("/autostart/filesync.desktop");
}

bool Autostart::isEnabled()
{
    return QFileInfo::exists(entryPath());
}

bool Autostart::setEnabled(bool enabled, const QString &executable)
{
    if (!enabled)
        return !QFileInfo::exists(entryPath()) || QFile::remove(entryPath());
    QDir().mkpath(QFileInfo(entryPath()).absolutePath());
    QFile file(entryPath());
    if (!file.open(QIODevice::WriteOnly | QIODevice::Truncate))
        return false;
    const QString entry = QStringLiteral("[Desktop Entry]\nType=Application\nName=FileSync\nExec=%1\nIcon=filesync\n"
                                         "Terminal=false\nX-GNOME-Autostart-enabled=true\n")
                              .arg(execArgument(executable));
    return file.write(entry.toUtf8()) > 0 && file.flush();
}

} // namespace filesync
