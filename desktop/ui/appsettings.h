#pragma once

#include <QSettings>
#include <QString>

namespace filesync {

// What the user configured, as stored with QSettings. The dialog edits a copy; the
// controller applies it.
struct AppSettings
{
    QString host;
    quint16 port = 7070;
    QString folder;
    QString accountId; // empty: create a new account on first connection
    int intervalSeconds = 60;

    static constexpr int kMinInterval = 5;
    static constexpr int kMaxInterval = 86400;

    bool isComplete() const { return !host.isEmpty() && port != 0 && !folder.isEmpty(); }
    static AppSettings load(QSettings &settings);
    void save(QSettings &settings) const;
    friend bool operator==(const AppSettings &, const AppSettings &) = default;
};

} // namespace filesync
