#include "metricsendpoint.h"

#include <QTcpServer>
#include <QTcpSocket>
#include <QTimer>

namespace filesync {

MetricsEndpoint::MetricsEndpoint(std::function<QByteArray()> render, QObject *parent)
    : QObject(parent)
    , m_render(std::move(render))
    , m_server(new QTcpServer(this))
{
    connect(m_server, &QTcpServer::newConnection, this, &MetricsEndpoint::onConnection);
}

Result<std::pair<QHostAddress, quint16>> MetricsEndpoint::parseAddress(const QString &addressAndPort)
{
    const qsizetype colon = addressAndPort.lastIndexOf(u':');
    bool portOk = false;
    const uint port = colon < 0 ? 0 : addressAndPort.mid(colon + 1).toUInt(&portOk);
    QString host = colon < 0 ? QString() : addressAndPort.left(colon);
    if (host.startsWith(u'[') && host.endsWith(u']'))
        host = host.mid(1, host.size() - 2);
    const QHostAddress address(host);
    if (!portOk || port > 65535 || address.isNull())
        return makeError(QStringLiteral("--metrics wants ADDRESS:PORT, e.g. 127.0.0.1:9090"));
    return std::pair { address, quint16(port) };
}

Result<void> MetricsEndpoint::listen(const QString &addressAndPort)
{
    const auto parsed = parseAddress(addressAndPort);
    if (!parsed)
        return parsed.error();
    if (!m_server->listen(parsed->first, parsed->second))
        return makeError(
            QStringLiteral("cannot listen for metrics on %1: %2").arg(addressAndPort, m_server->errorString()));
    return {};
}

quint16 MetricsEndpoint::port() const
{
    return m_server->serverPort();
}

void MetricsEndpoint::onConnection()
{
    while (QTcpSocket *socket = m_server->nextPendingConnection()) {
        connect(socket, &QTcpSocket::readyRead, this, [this, socket] { onReadable(socket); });
        connect(socket, &QTcpSocket::disconnected, socket, &QObject::deleteLater);
        // A scraper that connects and never asks must not hold the socket forever.
        QTimer::singleShot(kRequestTimeoutMs, socket, [socket] { socket->abort(); });
    }
}

void MetricsEndpoint::onReadable(QTcpSocket *socket)
{
    if (socket->bytesAvailable() > 8192) {
        socket->abort();
        return;
    }
    if (!socket->canReadLine())
        return;
    const QByteArray requestLine = socket->readLine().trimmed();
    const bool ok = requestLine.startsWith("GET /metrics ") || requestLine == "GET /metrics";
    const QByteArray body = ok ? m_render() : QByteArray("not found\n");
    QByteArray response = ok ? "HTTP/1.0 200 OK\r\n" : "HTTP/1.0 404 Not Found\r\n";
    response += "Content-Type: text/plain; version=0.0.4\r\nContent-Length: " + QByteArray::number(body.size())
        + "\r\nConnection: close\r\n\r\n" + body;
    socket->disconnect(this);
    socket->write(response);
    socket->disconnectFromHost();
}

} // namespace filesync
