#pragma once

#include <QObject>

class QSocketNotifier;

namespace filesync {

// Turns SIGTERM, SIGINT and SIGUSR1 into Qt signals on the event loop (self-pipe trick), so the
// server and the headless client stop gracefully. One per process; owned by main().
class SignalWatcher : public QObject
{
    Q_OBJECT
public:
    explicit SignalWatcher(QObject *parent = nullptr);
    ~SignalWatcher() override;

Q_SIGNALS:
    void terminationRequested(int signal); // SIGTERM, SIGINT
    void syncRequested(); // SIGUSR1: "sync now", for scripts and benchmarks

private:
    QSocketNotifier *m_notifier = nullptr;
};

} // namespace filesync
