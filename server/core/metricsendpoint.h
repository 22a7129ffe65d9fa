#pragma once

#include "result.h"

#include <QHostAddress>
#include <QObject>

#include <functional>
#include <utility>

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
    // "127.0.0.1:9090", "[::1]:9090": the address and port, or an Error saying the form.
    static Result<std::pair<QHostAddress, quint16>> parseAddress(const QString &addressAndPort);
    Result<void> listen(const QString &addressAndPort);
    quint16 port() const;

private:
    void onConnection();
    void onReadable(QTcpSocket *socket);

    std::function<QByteArray()> m_render;
    QTcpServer *m_server;
};

} // namespace filesync
