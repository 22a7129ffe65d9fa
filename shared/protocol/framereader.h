#pragma once

#include "messages.h"

#include <QByteArray>
#include <QIODevice>
#include <optional>

namespace filesync::protocol {

// Incremental frame parser: feed it bytes as they arrive (any split), take complete
// messages out. Caps are checked from the length prefix and the message type (the
// second byte of the payload) before a payload buffer is allocated. Frames are decoded
// one at a time, when taken: the limits in force then (setHandshakeOnly) apply to the
// next frame, and no more than one decoded message is ever held. After an error the
// reader stays failed: the connection must be closed.
class FrameReader
{
public:
    // Appends bytes; returns false (and sets error()) on a protocol violation found in
    // the next frame to take.
    bool feed(const QByteArray &bytes);
    // Reads up to `max` bytes from `device` straight into the buffer (no intermediate
    // copy: block frames are most of the bytes a connection moves); `got` says how many
    // it read. False as feed().
    bool feedFrom(QIODevice *device, qint64 max, qint64 &got);
    // Takes the next complete, decoded message, if any (none and hasError() on a
    // violation).
    std::optional<Envelope> take();
    // Before login: frames of at most kMaxHandshakeFrame bytes, of the handshake's types
    // only (Hello, Login, CreateAccount, Ping); any other is refused from its length and
    // type, never decoded.
    void setHandshakeOnly(bool on) { m_handshakeOnly = on; }
    bool hasError() const { return !m_error.isEmpty(); }
    QString error() const { return m_error; }
    // The errors:: code for error(): not-authenticated for a frame refused before login.
    const char *errorCode() const { return m_errorCode; }
    qint64 bufferedBytes() const { return m_buffer.size() - m_start; }
    // Whether the next frame's length prefix and type have arrived, and all of it.
    bool headerComplete() const;
    bool hasCompleteFrame() const;

private:
    bool parse(); // decodes the next frame into m_ready when there is none
    void compact();

    QByteArray m_buffer;
    qsizetype m_start = 0; // bytes of m_buffer already parsed (dropped at the next read)
    std::optional<Envelope> m_ready;
    QString m_error;
    const char *m_errorCode = errors::kBadRequest;
    bool m_handshakeOnly = false;
};

} // namespace filesync::protocol
