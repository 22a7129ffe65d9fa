#pragma once

#include "result.h"

#include <QObject>

#include <functional>

class QTcpServer;
class QTcpSocket;

namespace filesync {

// A minimal HTTP/1.0 responder for Prometheus: GET /metrics answers the text that
// `render` produces; anything else gets 404. Requests are capped at 8 KiB. Event
// thread; owned by SyncServer.
class MetricsEndpoint : public QObject
{
    Q_OBJECT
public:
    static constexpr int kRequestTimeoutMs = 10 * 1000;

    MetricsEndpoint(std::function<QByteArray()> render, QObject *parent = nullptr);
    Result<void> listen(const QString &addressAndPort); // "127.0.0.1:9090"
    quint16 port() const;

private:
    void onConnection();
    void onReadable(QTcpSocket *socket);

    std::function<QByteArray()> m_render;
    QTcpServer *m_server;
};

} // namespace filesync
