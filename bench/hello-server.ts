/**
 * The baseline of bench:gateway's HTTP figure: a bare hello route on the same HTTP stack as the key
 * service (NestJS on Fastify, the same adapter options and JSON body parsing), with nothing behind it.
 * POST /hello goes through NestJS's router; POST /hello-raw is a plain route on the same Fastify
 * instance. Prints its port on stdout once it listens.
 */
import { Body, Controller, HttpCode, Module, Post } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';

@Controller()
class HelloController {
  @Post('hello')
  @HttpCode(200)
  hello(@Body() body: unknown): { hello: string; received: boolean } {
    return { hello: 'world', received: body !== undefined };
  }
}

@Module({ controllers: [HelloController] })
class HelloModule {}

async function main(): Promise<void> {
  const app = await NestFactory.create<NestFastifyApplication>(HelloModule, new FastifyAdapter({ bodyLimit: 256 * 1024 }), { logger: false });
  // The floor of the stack: the same Fastify instance, no NestJS pipeline (as the verify route runs).
  app.getHttpAdapter().getInstance().post('/hello-raw', async (request) => ({ hello: 'world', received: request.body !== undefined }));
  await app.listen(Number(process.env.PORT ?? 0), '127.0.0.1');
  console.log(`listening ${new URL(await app.getUrl()).port}`);
}

void main();
