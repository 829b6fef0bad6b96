/**
 * The app of the non-controller-route tests (test/e2e/non-controller-routes.spec.ts and
 * test/browser/graphql.spec.ts): a schema-first GraphQL API (`@nestjs/graphql` +
 * `@nestjs/apollo`, Apollo Server 5 on Express through `@as-integrations/express5`, on Fastify
 * through `@as-integrations/fastify`), one controller that takes a JSON body, and a module that
 * mounts a sub-application of its own while the application initialises.
 */
import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import {
  Body,
  Controller,
  Get,
  Inject,
  Injectable,
  Module,
  Post,
  type OnModuleInit,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { Args, GraphQLModule, Mutation, Query, Resolver } from '@nestjs/graphql';
import express from 'express';
import type { FastifyInstance } from 'fastify';

/** Schema-first: no TypeScript plugin, no class-validator, no ts-morph. */
export const typeDefs = /* GraphQL */ `
  type Note {
    id: Int!
    text: String!
  }

  type Query {
    hello(name: String): String!
    notes: [Note!]!
  }

  type Mutation {
    addNote(text: String!): Note!
  }
`;

interface Note {
  id: number;
  text: string;
}

@Resolver()
export class NotesResolver {
  private readonly notes: Note[] = [];

  @Query('hello')
  hello(@Args('name') name: string | null): string {
    return `hello ${name ?? 'world'}`;
  }

  @Query('notes')
  list(): Note[] {
    return this.notes;
  }

  @Mutation('addNote')
  addNote(@Args('text') text: string): Note {
    const note = { id: this.notes.length + 1, text };
    this.notes.push(note);
    return note;
  }
}

/** A controller route with a JSON body: the target of the body-parser errors. */
@Controller('notes')
export class NotesController {
  @Get()
  list(): string {
    return 'notes';
  }

  @Post()
  create(@Body() body: unknown): unknown {
    return { received: body };
  }
}

/** `GraphQLModule` on `/graphql` with Apollo's defaults (CSRF prevention on, no `cors` option). */
export function graphqlModule() {
  return GraphQLModule.forRoot<ApolloDriverConfig>({ driver: ApolloDriver, typeDefs });
}

/** The JSON body of a GraphQL POST. */
export function gql(query: string, variables?: Record<string, unknown>): string {
  return JSON.stringify(variables === undefined ? { query } : { query, variables });
}

/**
 * Mounts `GET /module-plugin` in `onModuleInit`, as integrations that bring routes of their own
 * do: on Fastify an encapsulated plugin (its own context), awaited; on Express a router.
 */
@Injectable()
class ModulePluginMounter implements OnModuleInit {
  constructor(@Inject(HttpAdapterHost) private readonly host: HttpAdapterHost) {}

  async onModuleInit(): Promise<void> {
    const adapter = this.host.httpAdapter;
    if (adapter.getType() === 'fastify') {
      await (adapter.getInstance() as FastifyInstance).register(async (child) => {
        child.get('/module-plugin', async () => 'module-plugin');
      });
    } else {
      (adapter.getInstance() as express.Application).use(
        express.Router().get('/module-plugin', (_req, res) => void res.send('module-plugin')),
      );
    }
  }
}

/** A Nest module whose sub-application is mounted during `app.init()`. */
@Module({ providers: [ModulePluginMounter] })
export class ModulePluginModule {}
