/** The payment QR code as a PNG, the same wherever it is drawn (payment prompt, reminders). */
import QRCode from 'qrcode';

export function qrPng(uri: string): Promise<Buffer> {
  return QRCode.toBuffer(uri, { type: 'png', errorCorrectionLevel: 'M', margin: 2, width: 360 });
}
