#pragma once

#include <QLocalServer>
#include <QObject>

namespace filesync {

// One tray app per user and session: the first instance listens on a local socket
// (in $XDG_RUNTIME_DIR, else a per-uid name in the temp folder); a later start connects,
// asks it to come forward and exits. A socket left behind by a crash is replaced.
// GUI thread; owned by runTrayApplication() or a test.
class SingleInstance : public QObject
{
    Q_OBJECT
public:
    explicit SingleInstance(const QString &name = defaultName(), QObject *parent = nullptr);

    // True when another instance answered and was asked to come forward: exit then.
    bool forwardToRunning(int timeoutMs = 1000);
    // Becomes the running instance; false when the socket cannot be created.
    bool listen();
    QString name() const { return m_name; }

    static QString defaultName();

Q_SIGNALS:
    void raiseRequested();

private:
    QString m_name;
    QLocalServer m_server;
};

} // namespace filesync
