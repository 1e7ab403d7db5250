#ifndef DDROUTER_CRABBITMQ_SHIM_H
#define DDROUTER_CRABBITMQ_SHIM_H
// rabbitmq-c 0.11 installs flat headers (Debian librabbitmq-dev).
#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>
#include <amqp_ssl_socket.h>
#endif
