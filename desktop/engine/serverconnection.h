#pragma once

#include "messagechannel.h"

#include <QHash>
#include <QObject>
#include <QTimer>

#include <functional>

namespace filesync {

// The client's side of one connection: TCP connect, the versioned handshake, then
// requests with ids, many in flight at once; each reply goes to the handler given with
// its request. When the connection drops, every pending handler gets an Error envelope
// with code "disconnected", so no caller waits forever. Pushes (Advanced) are signals.
// Engine thread; owned by SyncEngine.
class ServerConnection : public QObject
{
    Q_OBJECT
public:
    using ReplyHandler = std::function<void(const protocol::Envelope &reply)>;
    static constexpr char kDisconnected[] = "disconnected";

    ServerConnection(const QString &host, quint16 port, QObject *parent = nullptr);
    ~ServerConnection() override;

    void open(); // connect + Hello; emits ready() or closed()
    void close();
    bool isReady() const { return m_ready; }

    quint64 request(protocol::MessageType type, const QCborMap &body, ReplyHandler handler);
    template<typename Body>
    quint64 request(protocol::MessageType type, const Body &body, ReplyHandler handler)
    {
        return request(type, body.toCbor(), std::move(handler));
    }
    int pendingRequests() const { return int(m_pending.size()); }
    qint64 bytesToWrite() const;
    quint64 bytesIn() const;
    quint64 bytesOut() const;

    // The reason in an Error reply, or a description of an unexpected reply type.
    static QString errorText(const protocol::Envelope &reply);
    static QString errorCode(const protocol::Envelope &reply);

Q_SIGNALS:
    void ready(); // handshake done: log in next
    void closed(const QString &reason);
    void advanced(quint64 head);
    void writeQueueDrained();

private:
    void onMessage(const protocol::Envelope &envelope);
    void fail(const QString &reason);

    QString m_host;
    quint16 m_port;
    protocol::MessageChannel *m_channel = nullptr;
    QHash<quint64, ReplyHandler> m_pending;
    quint64 m_nextId = 1;
    bool m_ready = false;
    QTimer m_connectTimeout;
};

} // namespace filesync
