#!/bin/sh
echo hello from app, GREETING=$GREETING
